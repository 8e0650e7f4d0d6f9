"""Endpoints of the kernel: who am I, API keys of my tenant."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from contacts_service import selectors, services
from contacts_service.models import ApiKey
from contacts_service.roles import Perm, Role
from contacts_service.serializers import StrictInputSerializer
from contacts_service.viewsets import TenantAPIView, TenantViewSet


class MeSerializer(serializers.Serializer):
    tenant_id = serializers.UUIDField()
    tenant_name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    permissions = serializers.ListField(child=serializers.CharField())
    actor = serializers.DictField()


class MeView(TenantAPIView):
    """The caller as the service sees it: tenant, role, permissions."""

    permission_map = {"get": Perm.CONTACTS_VIEW}

    @extend_schema(summary="Who am I", responses=MeSerializer)
    def get(self, request: Request) -> Response:
        access = request.tenant_access
        return Response(
            {
                "tenant_id": str(access.tenant.pk),
                "tenant_name": access.tenant.name,
                "role": access.role,
                "permissions": sorted(access.permissions),
                "actor": access.actor.as_dict(),
            }
        )


class ApiKeySerializer(serializers.ModelSerializer):
    prefix = serializers.CharField(source="display_prefix", read_only=True)

    class Meta:
        model = ApiKey
        fields = ["id", "name", "role", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at"]


class IssuedApiKeySerializer(ApiKeySerializer):
    key = serializers.CharField(read_only=True, help_text="The secret. Shown only in this response.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class ApiKeyInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(choices=Role.choices)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


@extend_schema_view(
    list=extend_schema(summary="API keys of the tenant (secrets are never shown again)"),
    create=extend_schema(
        summary="Issue an API key", request=ApiKeyInputSerializer, responses={201: IssuedApiKeySerializer}
    ),
    destroy=extend_schema(summary="Revoke an API key", responses={204: None}),
)
class ApiKeyViewSet(mixins.ListModelMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, TenantViewSet):
    queryset = ApiKey.objects.none()
    serializer_class = ApiKeySerializer
    permission_map = {
        "list": Perm.API_KEYS_MANAGE,
        "create": Perm.API_KEYS_MANAGE,
        "destroy": Perm.API_KEYS_MANAGE,
    }

    def get_tenant_queryset(self, tenant):
        return selectors.apikey_list(tenant=tenant)

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = ApiKeyInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        created_by = request.user if getattr(request.user, "pk", None) else None
        issued = services.apikey_create(tenant=self.tenant, created_by=created_by, **payload.validated_data)
        body = IssuedApiKeySerializer(issued.api_key).data
        body["key"] = issued.key
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ApiKey) -> None:
        services.apikey_revoke(tenant=self.tenant, prefix_or_id=str(instance.pk))

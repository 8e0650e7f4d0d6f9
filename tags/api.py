"""Tags API: CRUD and bulk apply/remove."""

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.serializers import ContactSelectionSerializer
from contacts_service.roles import Perm
from contacts_service.viewsets import TenantViewSet
from tags import selectors, services
from tags.models import Tag
from tags.serializers import BulkResultSerializer, TagInputSerializer, TagSerializer


@extend_schema_view(
    list=extend_schema(summary="Tags with their contact counts"),
    retrieve=extend_schema(summary="Get a tag"),
    create=extend_schema(summary="Create a tag", request=TagInputSerializer, responses={201: TagSerializer}),
    partial_update=extend_schema(summary="Rename, recolour or describe a tag", request=TagInputSerializer),
    destroy=extend_schema(summary="Delete a tag and untag every contact that has it", responses={204: None}),
)
class TagViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    empty_patch_refused = True  # PATCH {} is a 400: the schema says minProperties 1
    queryset = Tag.objects.none()
    serializer_class = TagSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_map = {
        "list": Perm.CONTACTS_VIEW,
        "retrieve": Perm.CONTACTS_VIEW,
        "create": Perm.TAGS_MANAGE,
        "partial_update": Perm.TAGS_MANAGE,
        "destroy": Perm.TAGS_MANAGE,
        "apply": Perm.TAGS_MANAGE,
        "remove": Perm.TAGS_MANAGE,
    }
    expensive_actions = frozenset({"apply", "remove"})  # the plan's `expensive` rate limit too

    def get_tenant_queryset(self, tenant):
        return selectors.tag_list(tenant=tenant)

    def _render(self, tag_id, code=status.HTTP_200_OK) -> Response:
        return Response(
            TagSerializer(selectors.tag_list(tenant=self.tenant).get(pk=tag_id)).data, status=code
        )

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = TagInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        tag = services.tag_create(tenant=self.tenant, **payload.validated_data)
        return self._render(tag.pk, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        tag = self.get_object()
        payload = TagInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        services.tag_update(tenant=self.tenant, tag_id=tag.pk, changes=payload.validated_data)
        return self._render(tag.pk)

    def perform_destroy(self, instance: Tag) -> None:
        services.tag_delete(tenant=self.tenant, actor=self.actor, tag_id=instance.pk)

    def _bulk(self, request: Request, remove: bool) -> Response:
        tag = self.get_object()
        payload = ContactSelectionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        selection = payload.selection(tenant=self.tenant)
        changed = services.tag_bulk(
            tenant=self.tenant, actor=self.actor, tag_id=tag.pk, selection=selection, remove=remove
        )
        return Response({"changed": changed})

    @extend_schema(
        summary="Tag up to 10,000 contacts by id, or every contact matching a filter",
        request=ContactSelectionSerializer,
        responses=BulkResultSerializer,
    )
    @action(detail=True, methods=["post"])
    def apply(self, request: Request, pk: str) -> Response:
        return self._bulk(request, remove=False)

    @extend_schema(
        summary="Untag contacts by id or by filter",
        request=ContactSelectionSerializer,
        responses=BulkResultSerializer,
    )
    @action(detail=True, methods=["post"])
    def remove(self, request: Request, pk: str) -> Response:
        return self._bulk(request, remove=True)

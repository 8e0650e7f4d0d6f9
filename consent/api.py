"""Consent API: a contact's consents (state + ledger), recording statements, double opt-in
confirmation (no authentication: the signed token is the credential), and the tenant's purposes."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from consent import selectors, services
from consent.models import ConsentPurpose
from consent.serializers import (
    ConfirmedSerializer,
    ConsentInputSerializer,
    ConsentPurposeInputSerializer,
    ConsentPurposeSerializer,
    ConsentPurposeUpdateSerializer,
    ConsentRecordedSerializer,
    ConsentRecordSerializer,
    ConsentsSerializer,
    ConsentStateSerializer,
)
from contacts.services.merges import contact_live_or_404
from contacts_service.roles import Perm
from contacts_service.serializers import ErrorSerializer
from contacts_service.viewsets import TenantAPIView, TenantViewSet, parse_id

CONTACT_ID_PARAM = OpenApiParameter("contact_pk", OpenApiTypes.UUID, OpenApiParameter.PATH)


def client_ip(request: Request) -> str | None:
    """The caller's IP, as consent proof records it. Behind TRUSTED_PROXY_COUNT reverse proxies that
    append to X-Forwarded-For, the address the outermost of them saw (REMOTE_ADDR is the nearest
    proxy's); an entry that is not an IP address, or too few entries, fall back to REMOTE_ADDR. With
    no proxy (0, the default) the header is ignored: any caller can write it."""
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies <= 0 or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    if len(hops) < proxies:
        return remote
    try:
        return str(ipaddress.ip_address(hops[-proxies]))
    except ValueError:
        return remote


class ContactConsentsView(TenantAPIView):
    permission_map = {"get": Perm.CONTACTS_VIEW, "post": Perm.CONSENT_MANAGE}

    @extend_schema(
        summary="Current consent per channel and purpose, and the full ledger",
        parameters=[CONTACT_ID_PARAM],
        responses=ConsentsSerializer,
    )
    def get(self, request: Request, contact_pk: str) -> Response:
        contact_id = parse_id(contact_pk)
        contact_live_or_404(self.tenant, contact_id)
        return Response(
            {
                "current": ConsentStateSerializer(
                    selectors.consent_current(tenant=self.tenant, contact_id=contact_id), many=True
                ).data,
                "ledger": ConsentRecordSerializer(
                    selectors.consent_ledger(tenant=self.tenant, contact_id=contact_id), many=True
                ).data,
            }
        )

    @extend_schema(
        summary="Record consent (granted, revoked, or pending = start a double opt-in)",
        parameters=[CONTACT_ID_PARAM],
        request=ConsentInputSerializer,
        responses={201: ConsentRecordedSerializer},
    )
    def post(self, request: Request, contact_pk: str) -> Response:
        contact_id = parse_id(contact_pk)
        contact_live_or_404(self.tenant, contact_id)
        payload = ConsentInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        confirm_url = settings.CONSENT_CONFIRM_URL or request.build_absolute_uri(
            reverse("consent-confirm", args=["TOKEN"])
        ).replace("TOKEN", "{token}")
        result = services.consent_record(
            tenant=self.tenant,
            actor=self.actor,
            contact_id=contact_id,
            channel=data["channel"],
            purpose=data["purpose"],
            status=data["status"],
            legal_basis=data["legal_basis"],
            source=data.get("source", ""),
            proof=data.get("proof"),
            ip_address=data.get("ip_address") or client_ip(request),
            user_agent=data.get("user_agent", request.META.get("HTTP_USER_AGENT", "")),
            request_ip=client_ip(request),
            confirm_url=confirm_url,
        )
        if not result.record.applied:
            detail = "Already granted: a new sign-up never downgrades it (kept in the ledger as proof)."
        elif result.changed:
            detail = f"Consent is now {result.record.status}."
        else:
            detail = f"Consent was already {result.record.status}; the statement is in the ledger."
        body = {
            "record": result.record,
            "state": result.state,
            "changed": result.changed,
            "confirmation": result.confirmation.__dict__ if result.confirmation else None,
            "detail": detail,
        }
        return Response(ConsentRecordedSerializer(body).data, status=status.HTTP_201_CREATED)


class ConsentConfirmView(APIView):
    """The link in a double opt-in email. The token is signed, expires, and works once."""

    authentication_classes = []
    permission_classes = [AllowAny]
    # No HEAD: DRF would answer it with get(), and link checkers and mail scanners send HEAD to see
    # whether a link is alive; that must not grant the consent and use the token up (405 instead).
    http_method_names = ["get", "options"]

    @extend_schema(
        summary="Confirm a double opt-in (no authentication; the token is the credential)",
        responses={
            200: ConfirmedSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="The link is not a valid token (invalid_token)."
            ),
            404: OpenApiResponse(ErrorSerializer, description="The consent or contact is gone."),
            409: OpenApiResponse(
                ErrorSerializer,
                description="Used already (token_used), or withdrawn since (token_superseded).",
            ),
            410: OpenApiResponse(ErrorSerializer, description="The link has expired (token_expired)."),
        },
        auth=[],
    )
    def get(self, request: Request, token: str) -> Response:
        result = services.consent_confirm(
            token=token,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        record = result.record
        return Response(
            ConfirmedSerializer(
                {"status": "confirmed", "channel": record.channel, "purpose": record.purpose,
                 "confirmed_at": record.recorded_at}
            ).data
        )  # fmt: skip


@extend_schema_view(
    list=extend_schema(summary="The tenant's consent purposes"),
    retrieve=extend_schema(summary="Get a consent purpose"),
    create=extend_schema(
        summary="Add a consent purpose",
        request=ConsentPurposeInputSerializer,
        responses={201: ConsentPurposeSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a purpose's label or description (the key is fixed)",
        request=ConsentPurposeUpdateSerializer,
    ),
    destroy=extend_schema(
        summary="Delete a purpose no ledger entry, import under way or segment uses",
        responses={
            204: None,
            409: OpenApiResponse(
                ErrorSerializer,
                description="Code `in_use`: the purpose is in the consent ledger, a queued or running "
                "import maps a column to it, or the rules of dynamic lists (`segments`: `[{id, name}]`) "
                "name it (change their rules first).",
            ),
        },
    ),
)
class ConsentPurposeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    queryset = ConsentPurpose.objects.none()
    serializer_class = ConsentPurposeSerializer
    pagination_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_map = {
        "list": Perm.CONTACTS_VIEW,
        "retrieve": Perm.CONTACTS_VIEW,
        "create": Perm.CONSENT_MANAGE,
        "partial_update": Perm.CONSENT_MANAGE,
        "destroy": Perm.CONSENT_MANAGE,
    }

    def get_tenant_queryset(self, tenant):
        return selectors.purpose_list(tenant=tenant)

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = ConsentPurposeInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        purpose = services.purpose_create(tenant=self.tenant, **payload.validated_data)
        return Response(ConsentPurposeSerializer(purpose).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        purpose = self.get_object()
        payload = ConsentPurposeUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        purpose = services.purpose_update(
            tenant=self.tenant, purpose_id=purpose.pk, changes=payload.validated_data
        )
        return Response(ConsentPurposeSerializer(purpose).data)

    def perform_destroy(self, instance: ConsentPurpose) -> None:
        services.purpose_delete(tenant=self.tenant, purpose_id=instance.pk)

"""The tenant's outbox for support: what was emitted, whether it left, and replay."""

from collections import Counter

from django.db.models import Q
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.services.merges import contact_live_or_404
from contacts_service.roles import Perm
from contacts_service.schema import empty_skipped
from contacts_service.viewsets import TenantAPIView, TenantViewSet, parse_id
from events import selectors, services
from events.activities import ActivityInput, activities_record
from events.filters import OutboxFilter
from events.models import Activity, OutboxEvent
from events.serializers import (
    ActivityBatchInputSerializer,
    ActivityBatchResultSerializer,
    ActivityInputSerializer,
    ActivityRecordedSerializer,
    ActivitySerializer,
    OutboxEventSerializer,
    ReplayInputSerializer,
    ReplayResultSerializer,
)


@extend_schema_view(
    list=extend_schema(summary="The tenant's events (outbox), newest first, with delivery status"),
    retrieve=extend_schema(summary="One event with its payload and delivery status"),
)
class OutboxEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantViewSet):
    queryset = OutboxEvent.objects.none()
    serializer_class = OutboxEventSerializer
    filterset_class = OutboxFilter
    lookup_value_regex = "[0-9]+"
    permission_map = {"list": Perm.EVENTS_VIEW, "retrieve": Perm.EVENTS_VIEW, "replay": Perm.EVENTS_REPLAY}
    expensive_actions = frozenset({"replay"})  # the plan's `expensive` rate limit too

    def get_tenant_queryset(self, tenant):
        return selectors.outbox_list(tenant=tenant)

    def get_object(self):  # bigint ids, not UUIDs
        return super(TenantViewSet, self).get_object()

    @extend_schema(
        summary="Publish the events of a time range again (same event_ids: consumers drop duplicates)",
        request=ReplayInputSerializer,
        responses=ReplayResultSerializer,
    )
    @action(detail=False, methods=["post"], filterset_class=None)
    def replay(self, request: Request) -> Response:
        payload = ReplayInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        condition = Q(created_at__gte=data["created_after"], created_at__lt=data["created_before"])
        if data.get("event_type"):
            condition &= Q(event_type__in=data["event_type"])
        if data.get("contact_id"):
            condition &= Q(aggregate_id=data["contact_id"])
        replayed = services.outbox_replay(tenant=self.tenant, actor=self.actor, condition=condition)
        return Response({"replayed": replayed})


def _item(data: dict) -> ActivityInput:
    return ActivityInput(
        activity_type=data["type"],
        contact_id=data.get("contact_id"),
        email=data.get("email"),
        occurred_at=data.get("occurred_at"),
        title=data.get("title", ""),
        data=data.get("data", {}),
        idempotency_key=data.get("idempotency_key") or None,
        source=data.get("source", ""),
    )


@extend_schema_view(
    get=extend_schema(
        summary="Activities of a contact, newest first (type=..., comma-separated, filters)",
        parameters=[
            OpenApiParameter("contact_pk", OpenApiTypes.UUID, OpenApiParameter.PATH),
            empty_skipped(OpenApiParameter("type", str, description="Activity types, comma-separated.")),
        ],
        responses=ActivitySerializer(many=True),
    ),
    post=extend_schema(
        summary="Report an activity of a contact (idempotent with idempotency_key)",
        parameters=[OpenApiParameter("contact_pk", OpenApiTypes.UUID, OpenApiParameter.PATH)],
        request=ActivityInputSerializer,
        responses={201: ActivityRecordedSerializer, 200: ActivityRecordedSerializer},
    ),
)
class ContactActivitiesView(TenantAPIView, GenericAPIView):
    permission_map = {"get": Perm.CONTACTS_VIEW, "post": Perm.CONTACTS_UPDATE}
    serializer_class = ActivitySerializer
    queryset = Activity.objects.none()

    def get(self, request: Request, contact_pk: str) -> Response:
        contact_id = parse_id(contact_pk)
        contact_live_or_404(self.tenant, contact_id)
        types = [t.strip() for t in request.query_params.get("type", "").split(",") if t.strip()]
        page = self.paginate_queryset(
            selectors.activities_for_contact(tenant=self.tenant, contact_id=contact_id, types=types)
        )
        return self.get_paginated_response(ActivitySerializer(page, many=True).data)

    def post(self, request: Request, contact_pk: str) -> Response:
        contact_id = parse_id(contact_pk)
        payload = ActivityInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        item = _item(payload.validated_data)
        item.contact_id = contact_id
        [result] = activities_record(
            tenant=self.tenant,
            actor=self.actor,
            items=[item],
        )
        if result.status == "contact_not_found":
            raise NotFound("Contact not found.")
        result.activity.duplicate = result.status == "duplicate"
        body = ActivityRecordedSerializer(result.activity).data
        code = status.HTTP_200_OK if result.status == "duplicate" else status.HTTP_201_CREATED
        return Response(body, status=code)


class ActivityBatchView(TenantAPIView):
    permission_map = {"post": Perm.CONTACTS_UPDATE}

    @extend_schema(
        summary="Report up to 500 activities of contacts given by id or email",
        request=ActivityBatchInputSerializer,
        responses=ActivityBatchResultSerializer,
    )
    def post(self, request: Request) -> Response:
        payload = ActivityBatchInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        results = activities_record(
            tenant=self.tenant,
            actor=self.actor,
            items=[_item(row) for row in payload.validated_data["activities"]],
            prefix="activities.",
        )
        counts = Counter(r.status for r in results)
        return Response(
            {
                "created": counts["created"],
                "duplicates": counts["duplicate"],
                "contacts_not_found": counts["contact_not_found"],
                "results": [
                    {
                        "index": r.index,
                        "status": r.status,
                        "activity_id": r.activity.pk if r.activity else None,
                        "contact_id": r.contact_id,
                    }
                    for r in results
                ],
            }
        )

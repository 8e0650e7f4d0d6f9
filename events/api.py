"""The tenant's outbox for support: what was emitted, whether it left, and replay."""

from django.db.models import Q
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from contacts_service.roles import Perm
from contacts_service.viewsets import TenantViewSet
from events import selectors, services
from events.filters import OutboxFilter
from events.models import OutboxEvent
from events.serializers import OutboxEventSerializer, ReplayInputSerializer, ReplayResultSerializer


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

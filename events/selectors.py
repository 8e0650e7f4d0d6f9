"""Reads of the timeline and the outbox, always for one tenant."""

import uuid

from django.db.models import Min, QuerySet
from django.utils import timezone

from contacts_service.models import Tenant
from events.models import Activity, OutboxEvent, TimelineEntry


def timeline_for_contact(*, tenant: Tenant, contact_id: uuid.UUID) -> QuerySet[TimelineEntry]:
    return (
        TimelineEntry.objects.for_tenant(tenant).filter(contact_id=contact_id).order_by("-occurred_at", "-id")
    )


def activities_for_contact(
    *, tenant: Tenant, contact_id: uuid.UUID, types: list[str] | None = None
) -> QuerySet[Activity]:
    activities = Activity.objects.for_tenant(tenant).filter(contact_id=contact_id)
    if types:
        activities = activities.filter(activity_type__in=types)
    return activities.order_by("-occurred_at", "-id")


def outbox_for_aggregate(*, tenant: Tenant, aggregate_id: uuid.UUID) -> QuerySet[OutboxEvent]:
    return OutboxEvent.objects.for_tenant(tenant).filter(aggregate_id=aggregate_id).order_by("sequence")


def outbox_list(*, tenant: Tenant) -> QuerySet[OutboxEvent]:
    """The tenant's outbox, newest first."""
    return OutboxEvent.objects.for_tenant(tenant).order_by("-id")


def outbox_lag() -> dict:
    """Pending events of every tenant and the age of the oldest, for health and metrics."""
    pending = OutboxEvent.objects.unscoped().filter(sent_at__isnull=True)
    # The oldest by id is the next the relay publishes; replayed rows count from their replay.
    first_new = pending.filter(replayed_at__isnull=True).order_by("id").values_list("created_at", flat=True)
    first_replayed = pending.filter(replayed_at__isnull=False).aggregate(at=Min("replayed_at"))
    candidates = [at for at in (first_new.first(), first_replayed["at"]) if at is not None]
    oldest = min(candidates) if candidates else None
    return {
        "pending": pending.count(),
        "oldest_pending_age_seconds": round((timezone.now() - oldest).total_seconds(), 1) if oldest else 0.0,
    }

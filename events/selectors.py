"""Reads of the timeline and the outbox, always for one tenant."""

import uuid

from django.db.models import QuerySet

from contacts_service.models import Tenant
from events.models import OutboxEvent, TimelineEntry


def timeline_for_contact(*, tenant: Tenant, contact_id: uuid.UUID) -> QuerySet[TimelineEntry]:
    return (
        TimelineEntry.objects.for_tenant(tenant).filter(contact_id=contact_id).order_by("-occurred_at", "-id")
    )


def outbox_for_aggregate(*, tenant: Tenant, aggregate_id: uuid.UUID) -> QuerySet[OutboxEvent]:
    return OutboxEvent.objects.for_tenant(tenant).filter(aggregate_id=aggregate_id).order_by("sequence")

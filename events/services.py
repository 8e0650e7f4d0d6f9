"""The one function every change calls: timeline entry + outbox row, in the caller's transaction."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts_service.context import Actor, get_correlation_id
from contacts_service.models import Tenant
from events.models import OutboxEvent, TimelineEntry

logger = logging.getLogger(__name__)

EVENT_VERSION = 1


def event_record(
    *,
    tenant: Tenant,
    event_type: str,
    aggregate_type: str,
    aggregate_id: uuid.UUID,
    sequence: int,
    data: dict[str, Any],
    actor: Actor,
    source: str,
    title: str = "",
    timeline_data: dict[str, Any] | None = None,
    occurred_at=None,
    timeline: bool = True,
) -> OutboxEvent:
    """Record an event of one aggregate (a contact): its timeline entry and its outbox row.

    Must run inside the transaction that made the change, so both exist exactly when the change
    does. `sequence` is the aggregate's own counter, taken under its row lock by the caller.
    `occurred_at` defaults to now (an activity reported later passes its own time); `timeline=False`
    publishes without a timeline entry (the erasure of a contact leaves no trace on a timeline).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record must be called inside the transaction of the change")
    occurred_at = occurred_at or timezone.now()
    event_id = uuid.uuid4()
    correlation_id = get_correlation_id()
    envelope = {
        "event_id": str(event_id),
        "event_type": event_type,
        "version": EVENT_VERSION,
        "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
        "tenant_id": str(tenant.pk),
        "source": settings.EVENTS_SOURCE,
        "correlation_id": correlation_id,
        "aggregate_type": aggregate_type,
        "aggregate_id": str(aggregate_id),
        "sequence": sequence,
        "actor": actor.as_dict(),
        "data": data,
    }
    if timeline:
        TimelineEntry.objects.for_tenant(tenant).create(
            tenant=tenant,
            contact_id=aggregate_id,
            event_id=event_id,
            event_type=event_type,
            occurred_at=occurred_at,
            title=title,
            data=timeline_data if timeline_data is not None else data,
            actor=actor.as_dict(),
            source=source,
            correlation_id=correlation_id,
        )
    outbox = OutboxEvent.objects.for_tenant(tenant).create(
        tenant=tenant,
        event_id=event_id,
        event_type=event_type,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        sequence=sequence,
        payload=envelope,
        created_at=timezone.now(),  # when it was recorded: the relay's lag counts from here
    )
    transaction.on_commit(lambda: logger.info("event recorded %s %s seq=%s", event_type, event_id, sequence))
    return outbox


def outbox_replay(*, tenant: Tenant, actor: Actor, condition) -> int:
    """Mark the tenant's sent events matching `condition` unsent, so the relay publishes them again
    with the same event_id. Events already pruned (EVENTS_RETENTION_DAYS) cannot come back."""
    from contacts_service.errors import ValidationFailed

    selected = OutboxEvent.objects.for_tenant(tenant).filter(condition, sent_at__isnull=False)
    limit = settings.EVENTS_REPLAY_MAX_EVENTS
    if selected[limit : limit + 1].exists():
        raise ValidationFailed(
            [{"field": "created_after", "code": "too_many",
              "message": f"More than {limit} events in this range (EVENTS_REPLAY_MAX_EVENTS): narrow it."}]
        )  # fmt: skip
    replayed = selected.update(sent_at=None, replayed_at=timezone.now())
    logger.info("replay of %d events requested by %s", replayed, actor.label)
    return replayed

"""The one function every change calls: timeline entry + outbox row, in the caller's transaction."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from contacts_service.bulk import bulk_insert_values
from contacts_service.context import Actor, get_correlation_id
from contacts_service.ids import new_id
from contacts_service.models import Tenant
from events.models import OutboxEvent, TimelineEntry

logger = logging.getLogger(__name__)

EVENT_VERSION = 1
TIMELINE_COLUMNS = ("id", "tenant_id", "contact_id", "event_id", "event_type", "occurred_at", "title", "data",
                    "actor", "source", "correlation_id")  # fmt: skip
OUTBOX_COLUMNS = ("tenant_id", "event_id", "event_type", "aggregate_type", "aggregate_id", "sequence",
                  "payload", "created_at", "attempts", "last_error")  # fmt: skip


@dataclass(frozen=True)
class EventSpec:
    """One event of one aggregate (a contact) for event_record_many."""

    event_type: str
    aggregate_id: uuid.UUID
    sequence: int
    data: dict[str, Any]
    title: str = ""
    timeline_data: dict[str, Any] | None = None
    occurred_at: datetime | None = None
    aggregate_type: str = "contact"
    event_id: uuid.UUID | None = None  # chosen by the caller when other rows must name the event


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
    occurred_at: datetime | None = None,
    timeline: bool = True,
) -> OutboxEvent:
    """Record an event of one aggregate (a contact): its timeline entry and its outbox row.

    Must run inside the transaction that made the change, so both exist exactly when the change
    does. `sequence` is the aggregate's own counter, taken under its row lock by the caller.
    `occurred_at` defaults to now (an activity reported later passes its own time); `timeline=False`
    publishes without a timeline entry (the erasure of a contact leaves no trace on a timeline).
    """
    spec = EventSpec(event_type=event_type, aggregate_type=aggregate_type, aggregate_id=aggregate_id,
                     sequence=sequence, data=data, title=title, timeline_data=timeline_data,
                     occurred_at=occurred_at)  # fmt: skip
    [outbox] = event_record_many(tenant=tenant, events=[spec], actor=actor, source=source, timeline=timeline)
    return outbox


def event_record_many(
    *,
    tenant: Tenant,
    events: list[EventSpec],
    actor: Actor,
    source: str,
    timeline: bool = True,
    copy: bool = False,
) -> list[OutboxEvent]:
    """event_record for many events at once: two INSERTs whatever their number. `copy=True` (large
    batches: imports) writes with COPY instead and returns only the first outbox row (without id)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record must be called inside the transaction of the change")
    if not events:
        return []
    now = timezone.now()
    correlation_id = get_correlation_id()
    actor_dict = actor.as_dict()
    entries, rows = [], []
    for spec in events:
        occurred_at = spec.occurred_at or now
        event_id = spec.event_id or new_id()
        envelope = {
            "event_id": str(event_id),
            "event_type": spec.event_type,
            "version": EVENT_VERSION,
            "occurred_at": occurred_at.isoformat().replace("+00:00", "Z"),
            "tenant_id": str(tenant.pk),
            "source": settings.EVENTS_SOURCE,
            "correlation_id": correlation_id,
            "aggregate_type": spec.aggregate_type,
            "aggregate_id": str(spec.aggregate_id),
            "sequence": spec.sequence,
            "actor": actor_dict,
            "data": spec.data,
        }
        timeline_data = spec.timeline_data if spec.timeline_data is not None else spec.data
        # Plain tuples in TIMELINE_COLUMNS / OUTBOX_COLUMNS order: a model instance per row cost more
        # than its COPY for the thousands of events of an import batch. The timeline entry of an event
        # takes the event's id as its own (as the bulk statement of contacts.services.links does),
        # unless the caller chose the event id beforehand: entries recorded together share occurred_at
        # and are ordered by id, which must then follow this loop (the events' order), as new_id does.
        if timeline:
            entry_id = new_id() if spec.event_id else event_id
            entries.append((entry_id, tenant.pk, spec.aggregate_id, event_id, spec.event_type, occurred_at,
                            spec.title, timeline_data, actor_dict, source, correlation_id))  # fmt: skip
        # created_at: when it was recorded, the relay's lag counts from there
        rows.append((tenant.pk, event_id, spec.event_type, spec.aggregate_type, spec.aggregate_id,
                     spec.sequence, envelope, now, 0, ""))  # fmt: skip
    if copy:
        bulk_insert_values(TimelineEntry, TIMELINE_COLUMNS, entries)
        bulk_insert_values(OutboxEvent, OUTBOX_COLUMNS, rows)
        outbox = [OutboxEvent(**dict(zip(OUTBOX_COLUMNS, row, strict=True))) for row in rows[:1]]
    else:
        TimelineEntry.objects.for_tenant(tenant).bulk_create(
            [TimelineEntry(**dict(zip(TIMELINE_COLUMNS, row, strict=True))) for row in entries]
        )
        outbox = OutboxEvent.objects.for_tenant(tenant).bulk_create(
            [OutboxEvent(**dict(zip(OUTBOX_COLUMNS, row, strict=True))) for row in rows]
        )
    first = rows[0][1]
    transaction.on_commit(lambda: logger.info("%d event(s) recorded, first %s", len(rows), first))
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
    # Pending again, as a new event is (attempts count the failures of this publication, so a replayed
    # event does not show as failed; last_error went with the attempts).
    replayed = selected.update(sent_at=None, replayed_at=timezone.now(), attempts=0, last_error="")
    logger.info("replay of %d events requested by %s", replayed, actor.label)
    return replayed

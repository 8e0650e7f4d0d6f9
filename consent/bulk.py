"""Consent statements for many contacts at once (an import batch): set-based, same ledger rules.

consent_record() handles one contact per call (double opt-in, proof checks, a query or two each);
an import states granted or revoked for up to 500 contacts a batch. This plans the ledger rows, the
new current states and the contact.consent_changed events in Python from one query of the current
states, and writes them with one COPY and one INSERT ... ON CONFLICT. The caller holds the contacts'
row locks (or created them in this transaction) and records the events with the batch's others.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from consent.models import ConsentRecord, ConsentState, LegalBasis
from consent.services import consent_event_data, consent_event_title
from contacts_service.bulk import bulk_insert
from contacts_service.context import Actor, get_correlation_id
from contacts_service.ids import new_id
from contacts_service.models import Tenant


@dataclass
class Statement:
    contact: Any  # contacts.Contact
    channel: str
    purpose: str
    status: str  # granted | revoked
    proof: dict[str, Any]


@dataclass
class ConsentWrites:
    records: list[ConsentRecord] = field(default_factory=list)
    states: list[ConsentState] = field(default_factory=list)
    # (contact, event type, data, title, event id) in the order they happen
    events: list[tuple[Any, str, dict[str, Any], str, uuid.UUID]] = field(default_factory=list)


def consent_plan(
    *, tenant: Tenant, statements: list[Statement], actor: Actor, source: str, only_unset: bool = False
) -> ConsentWrites:
    """Ledger rows and states for the statements that change something (a statement equal to the
    current state is not recorded again); `only_unset` keeps a consent the contact already has."""
    writes = ConsentWrites()
    if not statements:
        return writes
    current = {
        (s.contact_id, s.channel, s.purpose): s
        for s in ConsentState.objects.for_tenant(tenant).filter(
            contact_id__in={st.contact.pk for st in statements}
        )
    }
    now, actor_dict, correlation_id = timezone.now(), actor.as_dict(), get_correlation_id()
    planned: set[tuple] = set()
    for st in statements:
        key = (st.contact.pk, st.channel, st.purpose)
        state = current.get(key)
        old = state.status if state else None
        if old == st.status or (only_unset and state is not None):
            continue
        event_id = new_id()
        record = ConsentRecord(
            tenant=tenant,
            contact_id=st.contact.pk,
            channel=st.channel,
            purpose=st.purpose,
            status=st.status,
            legal_basis=LegalBasis.CONSENT,
            source=source,
            proof=st.proof,
            actor=actor_dict,
            correlation_id=correlation_id,
            recorded_at=now,
            applied=True,
            event_id=event_id,
        )
        writes.records.append(record)
        if state is None:
            state = current[key] = ConsentState(
                tenant=tenant, contact_id=st.contact.pk, channel=st.channel, purpose=st.purpose
            )
        if key not in planned:
            planned.add(key)
            writes.states.append(state)
        state.status, state.legal_basis, state.source = st.status, LegalBasis.CONSENT, source
        state.record_id, state.updated_at, state.confirmed_at = record.pk, now, None
        data, title = consent_event_data(record, old), consent_event_title(record)
        writes.events.append((st.contact, "contact.consent_changed", data, title, event_id))
    return writes


def consent_write(writes: ConsentWrites) -> None:
    """After the contacts exist in this transaction: the ledger rows (COPY), then the states."""
    bulk_insert(ConsentRecord, writes.records)
    if writes.states:
        ConsentState.objects.for_tenant(writes.states[0].tenant).bulk_create(
            writes.states,
            update_conflicts=True,
            unique_fields=["tenant", "contact", "channel", "purpose"],
            update_fields=["status", "legal_basis", "source", "record", "confirmed_at", "updated_at"],
        )

"""Consent across a contact merge, and back when the merge is undone.

Per channel and purpose the primary ends with the strictest current state of all merged contacts
(revoked < pending < granted: one revocation anywhere and the result is revoked), so a merge never
widens consent. The ledger stays append-only: for every channel and purpose another contact had
a state for, one derived entry is appended to the primary (source "merge", proof naming the merge,
the merged contacts, the deciding entry and every source entry); `applied` says whether it moved
the primary's state. The merged contacts keep their own ledger and states untouched.

Undo deletes exactly the entries the merge appended, in a transaction that names the merge in
`contacts_service.undoing_merge`: the ledger trigger lets a DELETE through only for rows whose
source is "merge" and whose proof names that merge (consent/migrations/0003). The primary's
states are then put back from the merge's snapshot.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from consent.models import ConsentRecord, ConsentState, ConsentStatus
from contacts_service.context import Actor, get_correlation_id
from contacts_service.ids import new_id
from contacts_service.models import Tenant

MERGE_SOURCE = "merge"
UNDOING_SETTING = "contacts_service.undoing_merge"
STRICTNESS = {ConsentStatus.REVOKED: 0, ConsentStatus.PENDING: 1, ConsentStatus.GRANTED: 2}


@dataclass(frozen=True)
class ConsentChange:
    """The primary's current consent on one channel and purpose moved from `old` to `new`."""

    channel: str
    purpose: str
    old: str | None
    new: str | None
    legal_basis: str
    record_id: uuid.UUID | None
    event_id: uuid.UUID


@dataclass
class ConsentOutcome:
    """One channel and purpose another merged contact has a state for: the primary's own state, the
    deciding (strictest) one, and the ids of the others' ledger entries behind it."""

    channel: str
    purpose: str
    mine: ConsentState | None
    decisive: ConsentState
    source_records: list[str]

    @property
    def applied(self) -> bool:
        return self.mine is None or self.mine.status != self.decisive.status


def consent_merge_outcome(
    *, tenant: Tenant, primary_id: uuid.UUID, other_ids: list[uuid.UUID]
) -> list[ConsentOutcome]:
    """What a merge would do to the primary's consent (two queries, nothing written)."""
    states = list(ConsentState.objects.for_tenant(tenant).filter(contact_id__in=[primary_id, *other_ids]))
    sources: dict[tuple[str, str], list[str]] = defaultdict(list)
    ledger = ConsentRecord.objects.for_tenant(tenant).filter(contact_id__in=other_ids)
    for record_id, channel, purpose in ledger.order_by("recorded_at", "id").values_list(
        "id", "channel", "purpose"
    ):
        sources[(channel, purpose)].append(str(record_id))
    by_key: dict[tuple[str, str], list[ConsentState]] = defaultdict(list)
    for state in states:
        by_key[(state.channel, state.purpose)].append(state)
    outcomes = []
    for (channel, purpose), group in sorted(by_key.items()):
        if all(s.contact_id == primary_id for s in group):
            continue
        mine = next((s for s in group if s.contact_id == primary_id), None)
        # Strictest first; on a tie the primary's own state stays, else the most recently changed.
        decisive = min(
            group, key=lambda s: (STRICTNESS[s.status], s.contact_id != primary_id, -s.updated_at.timestamp())
        )
        outcomes.append(ConsentOutcome(channel, purpose, mine, decisive, sources.get((channel, purpose), [])))
    return outcomes


def consent_merge(
    *,
    tenant: Tenant,
    actor: Actor,
    merge_id: uuid.UUID,
    primary_id: uuid.UUID,
    other_ids: list[uuid.UUID],
    now: datetime,
) -> tuple[list[uuid.UUID], list[ConsentChange]]:
    """Fold the others' consent into the primary. Returns the ids of the ledger entries appended
    and the changes of the primary's states (each with the event id its ledger entry names).
    A fixed number of queries whatever the number of states and entries; the caller holds the
    contacts' row locks."""
    records, changes, updated, created = [], [], [], []
    for outcome in consent_merge_outcome(tenant=tenant, primary_id=primary_id, other_ids=other_ids):
        mine, decisive = outcome.mine, outcome.decisive
        event_id = new_id() if outcome.applied else None
        record = ConsentRecord(
            tenant=tenant,
            contact_id=primary_id,
            channel=outcome.channel,
            purpose=outcome.purpose,
            status=decisive.status,
            legal_basis=decisive.legal_basis,
            source=MERGE_SOURCE,
            proof={
                "merge_id": str(merge_id),
                "merged_contact_ids": [str(i) for i in other_ids],
                "deciding_record": str(decisive.record_id),
                "deciding_contact": str(decisive.contact_id),
                "source_records": outcome.source_records,
            },
            actor=actor.as_dict(),
            correlation_id=get_correlation_id(),
            recorded_at=now,
            applied=outcome.applied,
            event_id=event_id,
        )
        records.append(record)
        if not outcome.applied:
            continue
        changes.append(
            ConsentChange(
                channel=outcome.channel, purpose=outcome.purpose, old=mine.status if mine else None,
                new=decisive.status, legal_basis=decisive.legal_basis, record_id=record.pk, event_id=event_id,
            )
        )  # fmt: skip
        state = mine or ConsentState(
            tenant=tenant, contact_id=primary_id, channel=outcome.channel, purpose=outcome.purpose
        )
        state.status = decisive.status
        state.legal_basis = decisive.legal_basis
        state.source = MERGE_SOURCE
        state.record = record
        state.confirmed_at = decisive.confirmed_at
        state.updated_at = now
        (updated if mine else created).append(state)
    ConsentRecord.objects.for_tenant(tenant).bulk_create(records)
    if updated:
        ConsentState.objects.for_tenant(tenant).bulk_update(
            updated, ["status", "legal_basis", "source", "record", "confirmed_at", "updated_at"]
        )
    ConsentState.objects.for_tenant(tenant).bulk_create(created)
    return [r.pk for r in records], changes


def _set_undoing(merge_id: uuid.UUID | None) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [UNDOING_SETTING, str(merge_id or "")])


def consent_merge_undo(
    *,
    tenant: Tenant,
    merge_id: uuid.UUID,
    primary_id: uuid.UUID,
    record_ids: list[uuid.UUID],
    states_before: list[ConsentState],
) -> list[ConsentChange]:
    """Delete the ledger entries the merge appended and put the primary's states back as they were
    before it. Returns the changes of the primary's states (with new event ids)."""
    current = {
        (s.channel, s.purpose): s
        for s in ConsentState.objects.for_tenant(tenant).filter(contact_id=primary_id)
    }
    before = {(s.channel, s.purpose): s for s in states_before}
    changes = []
    for key in sorted(set(current) | set(before)):
        old, new = current.get(key), before.get(key)
        if (old.status if old else None) != (new.status if new else None):
            changes.append(
                ConsentChange(
                    channel=key[0], purpose=key[1], old=old.status if old else None,
                    new=new.status if new else None, legal_basis=(new or old).legal_basis,
                    record_id=new.record_id if new else None, event_id=new_id(),
                )
            )  # fmt: skip
    # States first: those pointing at the merge's entries would otherwise go with them (cascade).
    ConsentState.objects.for_tenant(tenant).filter(contact_id=primary_id).delete()
    _set_undoing(merge_id)
    ConsentRecord.unscoped_objects.filter(tenant=tenant, contact_id=primary_id, pk__in=record_ids).delete()
    _set_undoing(None)
    ConsentState.objects.for_tenant(tenant).bulk_create(states_before)
    return changes

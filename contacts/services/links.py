"""Linking contacts to a tag or a list, in bulk, with their events, without a query per contact.

On PostgreSQL one statement does everything: insert (or delete) the link rows for the selected
contacts, bump each changed contact's event sequence, and write one timeline entry and one
outbox row per changed contact. Contacts already linked (or not linked, for removal) change
nothing and emit nothing. Other databases (the embedded SQLite default) take a plain loop.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, models, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from contacts.models import Contact
from contacts_service.context import Actor, get_correlation_id
from contacts_service.errors import NotFound
from contacts_service.models import Tenant
from events.services import EVENT_VERSION, event_record


@dataclass(frozen=True)
class LinkTarget:
    """What contacts are linked to: a link model, its column naming the target, the target's id."""

    model: type[models.Model]
    column: str  # e.g. "tag_id"
    target_id: uuid.UUID
    linked_event: str  # e.g. "contact.tagged"
    unlinked_event: str
    data: dict[str, Any]  # event data shared by every contact, e.g. {"tag": {...}}
    title_linked: str
    title_unlinked: str


# A time-ordered UUID (v7, as contacts_service.ids.new_id makes in Python) for the rows these statements
# insert: new keys land at the right edge of the primary key index instead of on a random page of it
# (gen_random_uuid's v4), which at a checkpoint every few minutes means a full-page image in the WAL
# for nearly every row. PostgreSQL 15 has no uuidv7(): the first 48 bits become the milliseconds since
# the epoch and the version nibble 4 becomes 7 (bits 52 and 53 set).
UUID7_SQL = (
    "encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING "
    "substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3) FROM 1 FOR 6), "
    "52, 1), 53, 1), 'hex')::uuid"
)

# The bump looks the changed contacts up by primary key (= ANY of an array): joined to the CTE,
# the planner hashed every contact of the tenant (a scan of the whole table, spilling to disk).
# The bump's RETURNING makes each event's id (no further CTE to materialize); an event's timeline entry
# takes the event's id as its own (one UUID fewer per row; event_record does the same). The outbox
# payload is the envelope's JSON text with the values that differ per contact concatenated in (the
# column is `json`: no jsonb built per row, ~0.3 s per 100,000 events; format() cost 40 ms more).
_EVENTS_SQL = f"""
bumped AS (
    UPDATE contacts_contact c SET event_sequence = c.event_sequence + 1
    WHERE c.id = ANY(ARRAY(SELECT contact_id FROM changed)) AND c.tenant_id = %s
    RETURNING c.id AS contact_id, c.event_sequence AS sequence, {UUID7_SQL} AS event_id
),
timeline AS (
    INSERT INTO events_timelineentry
        (id, tenant_id, contact_id, event_id, event_type, occurred_at, title, data, actor, source,
         correlation_id)
    SELECT b.event_id, %s, b.contact_id, b.event_id, %s, %s, %s, %s::jsonb, %s::jsonb, %s, %s FROM bumped b
)
INSERT INTO events_outboxevent
    (tenant_id, event_id, event_type, aggregate_type, aggregate_id, sequence, payload, created_at, attempts,
     last_error)
SELECT %s, b.event_id, %s, 'contact', b.contact_id, b.sequence,
    (%s || b.event_id || %s || b.contact_id || %s || b.sequence || %s || b.contact_id || %s)::json, %s, 0, ''
FROM bumped b
"""  # noqa: S608 (a constant expression, no input)


# A set-based call (bulk=True: a bulk tag, a list change by filter, a segment rebuild) keeps its changed
# rows and their events in tuplestores (~60 bytes a contact): with the default work_mem (4 MB) those of
# 100,000 contacts went to temporary files (~60 ms). Set for the rest of the transaction; the calls for
# one contact (a segment refresh after each change) skip it, a statement fewer.
_ROOMY = "SET LOCAL work_mem = '64MB'"


def _execute(sql: str, params: list, *, bulk: bool) -> int:
    """Run the link or unlink statement; returns how many contacts it changed."""
    with connection.cursor() as cursor:
        if bulk:
            cursor.execute(_ROOMY)
        cursor.execute(sql, params)
        return cursor.rowcount


def _envelope_parts(
    *, tenant: Tenant, event_type: str, occurred: str, correlation_id: str, actor: dict, data: dict
) -> list[str]:
    """The outbox envelope (the keys and values event_record writes) as the JSON text around the values
    that differ per contact, in their order: event id, contact id (aggregate_id), sequence, contact id
    (data.contact_id). A random marker stands for each while json.dumps escapes everything else."""
    marker = uuid.uuid4().hex
    event_id, contact_id, sequence = (f"{marker}{n}" for n in range(3))
    envelope = {
        "event_id": event_id, "event_type": event_type, "version": EVENT_VERSION, "occurred_at": occurred,
        "tenant_id": str(tenant.pk), "source": settings.EVENTS_SOURCE, "correlation_id": correlation_id,
        "aggregate_type": "contact", "aggregate_id": contact_id, "sequence": sequence, "actor": actor,
        "data": {"contact_id": contact_id, **data},
    }  # fmt: skip
    text = json.dumps(envelope).replace(f'"{sequence}"', sequence)  # a number: no quotes
    parts = re.split(f"{marker}[0-2]", text)
    if len(parts) != 5:  # the markers are random: only a change of the envelope above can do this
        raise RuntimeError("the bulk envelope must hold event id, contact id, sequence, contact id")
    return parts


def _events_params(
    *, tenant: Tenant, event_type: str, title: str, data: dict, actor: Actor, source: str
) -> list:
    now = timezone.now()
    occurred = now.isoformat().replace("+00:00", "Z")
    data_json = json.dumps(data)
    actor_dict = actor.as_dict()
    actor_json = json.dumps(actor_dict)
    cid = get_correlation_id()
    tid = tenant.pk
    envelope = _envelope_parts(tenant=tenant, event_type=event_type, occurred=occurred, correlation_id=cid,
                               actor=actor_dict, data=data)  # fmt: skip
    return [
        tid,  # bumped
        tid, event_type, now, title, data_json, actor_json, source, cid,  # timeline
        tid, event_type, *envelope, now,
    ]  # fmt: skip


def contacts_lock(*, tenant: Tenant, contact_ids: list[uuid.UUID]) -> list[Contact]:
    """Row-lock these live contacts in id order (as a merge does) before linking or unlinking a few of
    them: a link row inserted first would make a merge holding the contact and moving links onto it
    wait on that row while the linking waits on the contact - a deadlock. The set-based statements
    lock their selection the same way, in the statement (_LOCKED_SQL)."""
    contacts = Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=contact_ids)
    return list(contacts.filter(deleted_at__isnull=True).order_by("pk"))


def _selection_sql(selection: QuerySet[Contact]) -> tuple[str, tuple]:
    sql, params = selection.order_by().values("id").query.sql_with_params()
    return sql, params


# The selected contacts row-locked in id order before any link row is written (as contacts_lock and
# merges lock): a bulk that inserted links first and locked each contact at its sequence bump
# deadlocked with a request tagging one of them (which locks the contact, then inserts), tagged a
# contact merged away meanwhile (an event after its contact.deleted), and failed its foreign key at
# commit when one was erased meanwhile. A contact deleted or merged while the lock waited drops out
# (the condition is checked again on the locked row). Looked up by primary key (= ANY of the
# selection's ids): read as `id IN (selection)` the planner joined the tenant's whole table back.
# Every selected contact is locked, also one already in the asked state: a probe of the link table
# per contact to skip those was planned as a scan of the whole table per contact when its statistics
# said empty (at a first bulk: minutes for 100,000 contacts).
_LOCKED_SQL = """
locked AS (
    SELECT c.id FROM contacts_contact c
    WHERE c.id = ANY(ARRAY(SELECT s.id FROM ({selection}) s)) AND c.tenant_id = %s {live}
    ORDER BY c.id
    FOR NO KEY UPDATE OF c
)"""


# How a link statement locks its tag or list (target_lock), by what its caller already holds:
SHARE = "FOR SHARE"  # nothing: wait for a deletion (even its first phase) or a rebuild to end first
KEY_SHARE = "FOR KEY SHARE"  # one contact: pass a deletion's first phase, which then waits for it
SKIP = "FOR KEY SHARE SKIP LOCKED"  # contacts a FOR UPDATE holder may lock next: TargetBusy, no wait


@transaction.atomic
def contacts_link(
    *,
    tenant: Tenant,
    target: LinkTarget,
    selection: QuerySet[Contact],
    actor: Actor,
    source: str,
    bulk: bool = False,
    target_mode: str | None = SHARE,
) -> int:
    """Link every live contact of `selection` not linked yet; returns how many were linked. The target
    is locked first as `target_mode` says (target_lock; None: the caller holds it already)."""
    table = target.model._meta.db_table
    if connection.vendor == "postgresql":
        # The selection's own query, narrowed to the tenant's live contacts, is the source: read as
        # `id IN (selection)` it was joined back to the contacts table, a second scan of the tenant.
        # A contact the selection yields twice (a join) conflicts with its own first row: DO NOTHING.
        live = selection.filter(tenant_id=tenant.pk, deleted_at__isnull=True)
        try:
            selection_sql, selection_params = _selection_sql(live)
        except EmptyResultSet:  # a filter that matches nobody (tags_all naming an unknown tag)
            return 0
        # Table and column names come from model metadata, never from input; values are parameters.
        if target_mode is not None:
            target_lock(target, target_mode)
        locked = _LOCKED_SQL.format(selection=selection_sql, live="AND c.deleted_at IS NULL")
        sql = f"""
            WITH {locked}, changed AS (
                INSERT INTO {table} (id, tenant_id, contact_id, {target.column}, added_at, added_by)
                SELECT {UUID7_SQL}, %s, l.id, %s, %s, %s::jsonb
                FROM locked l
                ON CONFLICT (tenant_id, {target.column}, contact_id) DO NOTHING
                RETURNING contact_id
            ), {_EVENTS_SQL}"""  # noqa: S608
        params = [
            *selection_params, tenant.pk,
            tenant.pk, target.target_id, timezone.now(), json.dumps(actor.as_dict()),
            *_events_params(tenant=tenant, event_type=target.linked_event, title=target.title_linked,
                            data=target.data, actor=actor, source=source),
        ]  # fmt: skip
        return _execute(sql, params, bulk=bulk)
    return _link_loop(tenant=tenant, target=target, selection=selection, actor=actor, source=source)


@transaction.atomic
def contacts_unlink(
    *,
    tenant: Tenant,
    target: LinkTarget,
    selection: QuerySet[Contact],
    actor: Actor,
    source: str,
    bulk: bool = False,
) -> int:
    """Unlink every contact of `selection` that is linked; returns how many were unlinked."""
    table = target.model._meta.db_table
    if connection.vendor == "postgresql":
        try:
            selection_sql, selection_params = _selection_sql(selection)
        except EmptyResultSet:  # a filter that matches nobody
            return 0
        # Table and column names come from model metadata, never from input; values are parameters.
        locked = _LOCKED_SQL.format(selection=selection_sql, live="")
        sql = f"""
            WITH {locked}, changed AS (
                DELETE FROM {table} t
                WHERE t.tenant_id = %s AND t.{target.column} = %s
                  AND t.contact_id = ANY(ARRAY(SELECT id FROM locked))
                RETURNING t.contact_id
            ), {_EVENTS_SQL}"""  # noqa: S608
        params = [
            *selection_params, tenant.pk,
            tenant.pk, target.target_id,
            *_events_params(tenant=tenant, event_type=target.unlinked_event, title=target.title_unlinked,
                            data=target.data, actor=actor, source=source),
        ]  # fmt: skip
        return _execute(sql, params, bulk=bulk)
    return _unlink_loop(tenant=tenant, target=target, selection=selection, actor=actor, source=source)


def target_delete(*, tenant: Tenant, target: LinkTarget, instance, actor: Actor, source: str) -> int:
    """Unlink every contact linked to a tag or list (each with its event), then delete it; returns how
    many were unlinked. The caller holds its row FOR NO KEY UPDATE: a request linking one contact holds
    that contact, then key-share-locks the target (target_lock, KEY_SHARE), which that lock lets pass,
    where FOR UPDATE had it wait while the unlink below waited for its contact (a deadlock); a bulk
    link, holding no contact yet, takes SHARE and waits for the whole deletion. FOR UPDATE then
    waits for such requests to commit (later ones wait for this one, then find the target gone), and
    the contacts they linked meanwhile, or a merge moved the link to, are unlinked too, with their
    events, before the row and its links go."""

    def holders() -> QuerySet[Contact]:
        linked = _links(tenant, target).values("contact_id")
        return Contact.objects.for_tenant(tenant).filter(pk__in=linked)

    removed = contacts_unlink(tenant=tenant, target=target, selection=holders(), actor=actor, source=source)
    list(type(instance).objects.unscoped().select_for_update().filter(pk=instance.pk).values_list("pk"))
    removed += contacts_unlink(tenant=tenant, target=target, selection=holders(), actor=actor, source=source)
    instance.delete()
    return removed


class TargetBusy(Exception):
    """The tag or list is held (deleted, its rules changed, rebuilt) and the caller asked not to wait."""


def target_lock(target: LinkTarget, mode: str = SHARE) -> None:
    """Lock the tag or list the links point at (its foreign key check at commit takes a key-share
    lock; taken now, and stronger for a caller holding no contact, see SHARE): while it is being
    deleted this waits, then finds it gone - a 404 rather than a foreign key error at commit (a 500).
    On SQLite (no row locks) it only checks the row is there."""
    model = target.model._meta.get_field(target.column.removesuffix("_id")).related_model
    there = model._base_manager.filter(pk=target.target_id)
    if connection.vendor != "postgresql":
        if not there.exists():
            raise NotFound(f"This {model._meta.verbose_name} no longer exists.")
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {model._meta.db_table} WHERE id = %s {mode}", [target.target_id])  # noqa: S608 (model metadata)
        if cursor.fetchone() is not None:
            return
    if mode == SKIP and there.exists():
        raise TargetBusy(target.target_id)
    raise NotFound(f"This {model._meta.verbose_name} no longer exists.")


def _links(tenant: Tenant, target: LinkTarget) -> QuerySet:
    return target.model.objects.for_tenant(tenant).filter(**{target.column: target.target_id})


def _emit(
    tenant: Tenant, target: LinkTarget, contact_ids, event_type: str, title: str, actor: Actor, source: str
):
    for contact_id in contact_ids:
        Contact.objects.for_tenant(tenant).filter(pk=contact_id).update(
            event_sequence=F("event_sequence") + 1
        )
        sequence = (
            Contact.objects.for_tenant(tenant)
            .filter(pk=contact_id)
            .values_list("event_sequence", flat=True)[0]
        )
        event_record(
            tenant=tenant, event_type=event_type, aggregate_type="contact", aggregate_id=contact_id,
            sequence=sequence, data={"contact_id": str(contact_id), **target.data}, actor=actor,
            source=source, title=title,
        )  # fmt: skip


def _link_loop(*, tenant, target, selection, actor, source) -> int:
    wanted = set(selection.filter(deleted_at__isnull=True).values_list("id", flat=True))
    new = wanted - set(
        _links(tenant, target).filter(contact_id__in=wanted).values_list("contact_id", flat=True)
    )
    now = timezone.now()
    target.model.objects.for_tenant(tenant).bulk_create(
        [
            target.model(tenant=tenant, contact_id=cid, added_at=now, added_by=actor.as_dict(),
                         **{target.column: target.target_id})
            for cid in sorted(new)
        ]
    )  # fmt: skip
    _emit(tenant, target, sorted(new), target.linked_event, target.title_linked, actor, source)
    return len(new)


def _unlink_loop(*, tenant, target, selection, actor, source) -> int:
    links = _links(tenant, target).filter(contact_id__in=selection.values("id"))
    gone = sorted(links.values_list("contact_id", flat=True))
    links.delete()
    _emit(tenant, target, gone, target.unlinked_event, target.title_unlinked, actor, source)
    return len(gone)

"""Merge contacts into a primary (or only show what it would do), and undo a merge.

A merge locks every contact involved (SELECT ... FOR UPDATE in id order) and, in one transaction:
  - records a Merge and, per contact, a MergeContact snapshot of its row, identifiers, tag
    assignments, list memberships and consent states (merge_snapshot);
  - moves the others' timeline entries, history rows and activities to the primary (their ids are
    kept so undo can move them back);
  - moves the others' identifiers to the primary, and adds their emails and phones the primary
    does not keep as email/phone identifiers;
  - moves tag assignments and static list memberships the primary lacks (dropping the others'
    duplicates and dynamic memberships: segments follow the merged contact's values);
  - folds consent (consent.merging: the strictest state wins, the ledger gets derived entries);
  - soft-deletes the others (deleted_at, merge) first, so the unique email/external_id of a live
    contact never blocks the primary taking one of their values, then saves the primary;
  - records, in this order: contact.merged, contact.tagged / contact.added_to_list /
    contact.consent_changed for what the primary gained, contact.deleted (reason "merged") per
    other; then refreshes the primary's segments.
Every step is a fixed number of statements, whatever the number of tags, lists or timeline rows.

Undo is in merge_undo.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from django.db import transaction
from django.db.models import F, Model, Q
from django.utils import timezone

from contacts.models import (
    AttributeDefinition,
    ChangeSource,
    Contact,
    ContactChange,
    ContactIdentifier,
    IdentifierChannel,
    Merge,
    MergeContact,
    MergeRole,
)
from contacts.services.duplicates import duplicates_check, matching_rules_get
from contacts.services.merge_plan import MergePlan, check_fields, merge_plan
from contacts.services.merge_snapshot import (
    snapshot_take,
)
from contacts.services.recording import contact_snapshot
from contacts_service.context import Actor, get_correlation_id
from contacts_service.errors import NotFound, ValidationFailed
from contacts_service.ids import new_id
from contacts_service.models import Tenant
from events.services import EventSpec, event_record_many

MAX_MERGE_OTHERS = 20


def surviving_contact_ids(tenant: Tenant, contact_ids) -> dict[uuid.UUID, uuid.UUID]:
    """{id: the contact it was merged into (through merges of merges), or itself}: a double opt-in
    link mailed before the merge confirms on the contact that took over its consent, an activity
    reported for it lands on that contact. One query per level of the chains, whatever their number."""
    found = {contact_id: contact_id for contact_id in contact_ids}
    for _ in range(32):  # chains of merges; a cycle cannot happen (a primary is live when merged into)
        steps = dict(
            Contact.objects.unscoped()
            .filter(pk__in=set(found.values()), tenant=tenant, deleted_at__isnull=False, merge__isnull=False)
            .values_list("pk", "merge__primary_id")
        )
        if not steps:
            break
        found = {start: steps.get(now, now) for start, now in found.items()}
    return found


def surviving_contact_id(tenant: Tenant, contact_id: uuid.UUID) -> uuid.UUID:
    return surviving_contact_ids(tenant, [contact_id])[contact_id]


def lock_surviving_contact(tenant: Tenant, contact_id: uuid.UUID) -> Contact:
    """The live contact an id stands for now (itself, or the one it was merged into), row-locked. A
    merge or its undo committing while the lock waited changes which contact that is (the contact
    that signed up was live again after an undo): looked up again once locked, until it holds."""
    for _ in range(5):
        target = surviving_contact_id(tenant, contact_id)
        contact = (
            Contact.objects.for_tenant(tenant)
            .select_for_update()
            .filter(pk=target, deleted_at__isnull=True)
            .first()
        )
        now = surviving_contact_id(tenant, contact_id)
        if contact is not None and now == contact.pk:
            return contact
        if contact is None and now == target:  # deleted, not merged: nothing to follow
            break
    raise NotFound("Contact not found.")


def contact_live_or_404(tenant: Tenant, contact_id: uuid.UUID, message: str = "Contact not found.") -> None:
    """Nothing when the id is a live contact of this tenant, else its 404 (contact_not_found)."""
    if not Contact.objects.for_tenant(tenant).filter(pk=contact_id, deleted_at__isnull=True).exists():
        contact_not_found(tenant, contact_id, message)


def contact_not_found(tenant: Tenant, contact_id: uuid.UUID, message: str = "Not found.") -> NoReturn:
    """The 404 of an id no live contact of this tenant has. For a contact merged into another (the merge
    applies) it says where the contact went: `merge_id`, the merge that took it, and `primary_id`, the
    live contact holding it now (through merges of merges), unless that one was deleted since."""
    merge_id = (
        Contact.objects.for_tenant(tenant)
        .filter(pk=contact_id, deleted_at__isnull=False, merge__isnull=False)
        .values_list("merge_id", flat=True)
        .first()
    )
    if merge_id is None:
        raise NotFound(message)
    primary_id = surviving_contact_id(tenant, contact_id)
    if not Contact.objects.for_tenant(tenant).filter(pk=primary_id, deleted_at__isnull=True).exists():
        raise NotFound(
            f"This contact was merged into another (merge {merge_id}), deleted since.", merge_id=str(merge_id)
        )
    raise NotFound(
        f"This contact was merged into contact {primary_id} (merge {merge_id}).",
        merge_id=str(merge_id),
        primary_id=str(primary_id),
    )


def _moved_models() -> dict[str, type[Model]]:
    from events.models import Activity, TimelineEntry

    return {"timeline": TimelineEntry, "history": ContactChange, "activities": Activity}


@dataclass
class LinkMoves:
    """What a merge does to one link table (tags or lists): rows moved to the primary, rows dropped."""

    move: list[uuid.UUID] = field(default_factory=list)
    drop: list[uuid.UUID] = field(default_factory=list)
    targets: list[uuid.UUID] = field(default_factory=list)  # tags / lists the primary gains


@dataclass
class MergeOutcome:
    """A merge done (merge set) or only planned (dry run): the primary after it and what it gained."""

    merge: Merge | None
    primary: Contact
    plan: MergePlan
    identifiers_added: list[dict[str, str]]
    tags_added: list[Any]
    lists_added: list[Any]
    consent: list[dict[str, Any]]


def _check_others(primary_id: uuid.UUID, other_ids: list[uuid.UUID]) -> None:
    if not other_ids:
        raise ValidationFailed(
            [{"field": "others", "code": "required", "message": "Name at least one contact to merge."}]
        )
    if len(other_ids) > MAX_MERGE_OTHERS:
        raise ValidationFailed(
            [{"field": "others", "code": "max_length",
              "message": f"At most {MAX_MERGE_OTHERS} contacts in one merge."}]
        )  # fmt: skip
    errors, seen = [], set()
    for index, other_id in enumerate(other_ids):
        if other_id == primary_id:
            errors.append({"field": f"others.{index}", "code": "invalid",
                           "message": "The primary cannot be merged into itself."})  # fmt: skip
        elif other_id in seen:
            errors.append({"field": f"others.{index}", "code": "duplicate", "message": "Named twice."})
        seen.add(other_id)
    if errors:
        raise ValidationFailed(errors)


def _live_contacts(
    tenant: Tenant, primary_id: uuid.UUID, other_ids: list[uuid.UUID], *, lock: bool
) -> tuple[Contact, list[Contact]]:
    """The live contacts of the merge (row-locked in id order with lock=True); any id that is not a
    live contact of this tenant is a 404 (naming others.N for another contact)."""
    contacts = Contact.objects.for_tenant(tenant).filter(
        pk__in=[primary_id, *other_ids], deleted_at__isnull=True
    )
    if lock:
        contacts = contacts.select_for_update().order_by("pk")
    found = {c.pk: c for c in contacts}
    if primary_id not in found:
        contact_not_found(tenant, primary_id, "Contact not found.")
    for index, other_id in enumerate(other_ids):
        if other_id not in found:
            raise NotFound("No such live contact in this tenant.", field=f"others.{index}")
    return found[primary_id], [found[i] for i in other_ids]


def _link_moves(
    tenant: Tenant, model: type[Model], column: str, primary_id: uuid.UUID, other_ids: list[uuid.UUID],
    movable: Q | None = None,
) -> LinkMoves:  # fmt: skip
    """Which of the others' link rows move to the primary (one per target it lacks, the oldest) and
    which are dropped (targets it has; rows not `movable`). Two queries."""
    links = model.objects.for_tenant(tenant)
    held = set(links.filter(contact_id=primary_id).values_list(column, flat=True))
    rows = links.filter(contact_id__in=other_ids).order_by("added_at", "id")
    if movable is not None:
        rows = rows.annotate(_movable=Q(movable))  # a boolean expression per row
    moves = LinkMoves()
    for row in rows.values("id", column, *(["_movable"] if movable is not None else [])):
        target = row[column]
        if target in held or not row.get("_movable", True):
            moves.drop.append(row["id"])
        else:
            held.add(target)
            moves.move.append(row["id"])
            moves.targets.append(target)
    return moves


def _apply_link_moves(tenant: Tenant, model: type[Model], moves: LinkMoves, primary_id: uuid.UUID) -> None:
    links = model.objects.for_tenant(tenant)
    if moves.move:
        links.filter(pk__in=moves.move).update(contact_id=primary_id)
    if moves.drop:
        links.filter(pk__in=moves.drop).delete()


def _move_rows(tenant: Tenant, other_ids: list[uuid.UUID], primary_id: uuid.UUID) -> dict[str, dict]:
    """Move the others' timeline, history and activity rows to the primary; returns the moved ids per
    contact and table ({contact id: {"timeline": [...], ...}}) for undo. Two statements per table."""
    moved: dict[str, dict[str, list[str]]] = {str(i): {} for i in other_ids}
    for name, model in _moved_models().items():
        rows = model.objects.for_tenant(tenant).filter(contact_id__in=other_ids)
        for row_id, contact_id in rows.values_list("id", "contact_id"):
            moved[str(contact_id)].setdefault(name, []).append(str(row_id))
        rows.update(contact_id=primary_id)
    return moved


def _identifiers_to_add(tenant: Tenant, contacts: list[Contact], plan: MergePlan) -> list[tuple[str, str]]:
    """Emails and phones of the merged contacts the primary does not keep as its own, to become its
    email/phone identifiers (unless the tenant has them as identifiers already). One query."""
    wanted: list[tuple[str, str]] = []
    for contact in contacts:
        for channel, value, kept in (
            (IdentifierChannel.EMAIL, contact.email, plan.values["email"]),
            (IdentifierChannel.PHONE, contact.phone, plan.values["phone"]),
        ):
            if value and value != kept and (channel, value) not in wanted:
                wanted.append((channel, value))
    if not wanted:
        return []
    taken = Q()
    for channel, value in wanted:
        taken |= Q(channel=channel, value=value)
    existing = set(ContactIdentifier.objects.for_tenant(tenant).filter(taken).values_list("channel", "value"))
    return [pair for pair in wanted if pair not in existing]


def _tag_and_list_data(tenant: Tenant, tag_ids: list, list_ids: list) -> tuple[list, list]:
    from lists.models import ContactList
    from tags.models import Tag

    tags = list(Tag.objects.for_tenant(tenant).filter(pk__in=tag_ids).order_by("name")) if tag_ids else []
    lists = (
        list(ContactList.objects.for_tenant(tenant).filter(pk__in=list_ids).order_by("name"))
        if list_ids
        else []
    )
    return tags, lists


def _tag_event(tag) -> dict:
    return {"tag": {"id": str(tag.pk), "name": tag.name, "color": tag.color}}


def _list_event(contact_list) -> dict:
    return {"list": {"id": str(contact_list.pk), "name": contact_list.name, "kind": contact_list.kind}}


def _consent_event(change, contact_id: uuid.UUID, merge_id: uuid.UUID) -> dict:
    return {
        "contact_id": str(contact_id), "channel": change.channel, "purpose": change.purpose,
        "old": change.old, "new": change.new, "source": "merge", "legal_basis": change.legal_basis,
        "record_id": str(change.record_id) if change.record_id else None, "double_opt_in": False,
        "merge_id": str(merge_id),
    }  # fmt: skip


def _changes_data(changes: Mapping[str, tuple[Any, Any]]) -> dict:
    return {name: {"old": old, "new": new} for name, (old, new) in changes.items()}


@transaction.atomic
def contact_merge(
    *,
    tenant: Tenant,
    actor: Actor,
    primary_id: uuid.UUID,
    other_ids: list[uuid.UUID],
    fields: Mapping[str, Any] | None = None,
    strategy: str | None = None,
    dry_run: bool = False,
) -> MergeOutcome:
    """Merge `other_ids` into `primary_id` (see the module docstring); with dry_run, only say what
    it would do (nothing is locked or written). `fields` = {field or attributes.<key>: contact id}
    picks values; `strategy` defaults to the tenant's matching rules."""
    from consent.merging import consent_merge, consent_merge_outcome
    from lists.models import ListKind, ListMembership
    from tags.models import TagAssignment

    other_ids = list(other_ids)
    _check_others(primary_id, other_ids)
    primary, others = _live_contacts(tenant, primary_id, other_ids, lock=not dry_run)
    contacts = [primary, *others]
    strategy = strategy or matching_rules_get(tenant=tenant).merge_strategy
    chosen = check_fields(
        fields=fields or {},
        contact_ids=[c.pk for c in contacts],
        attribute_keys={key for c in contacts for key in (c.attributes or {})},
    )
    required = set(
        AttributeDefinition.objects.for_tenant(tenant).filter(required=True).values_list("key", flat=True)
    )
    plan = merge_plan(primary=primary, others=others, strategy=strategy, chosen=chosen, required=required)
    tag_moves = _link_moves(tenant, TagAssignment, "tag_id", primary.pk, other_ids)
    list_moves = _link_moves(
        tenant, ListMembership, "contact_list_id", primary.pk, other_ids,
        movable=Q(contact_list__kind=ListKind.STATIC),
    )  # fmt: skip
    moved_identifiers = list(
        ContactIdentifier.objects.for_tenant(tenant)
        .filter(contact_id__in=other_ids)
        .order_by("channel", "created_at")
        .values_list("channel", "value")
    )
    new_identifiers = _identifiers_to_add(tenant, contacts, plan)
    identifiers_added = [{"channel": c, "value": v} for c, v in [*moved_identifiers, *new_identifiers]]
    tags, lists = _tag_and_list_data(tenant, tag_moves.targets, list_moves.targets)

    if dry_run:
        outcomes = consent_merge_outcome(tenant=tenant, primary_id=primary.pk, other_ids=other_ids)
        consent = [
            {"channel": o.channel, "purpose": o.purpose, "old": o.mine.status if o.mine else None,
             "new": o.decisive.status}
            for o in outcomes if o.applied
        ]  # fmt: skip
        plan.apply_to(primary)  # an unsaved copy: nothing is written
        return MergeOutcome(None, primary, plan, identifiers_added, tags, lists, consent)

    now = timezone.now()
    merge = Merge(
        tenant=tenant, primary=primary, merged_ids=[str(i) for i in other_ids], strategy=strategy,
        fields={name: str(cid) for name, cid in chosen.items()}, changes=_changes_data(plan.changes),
        actor=actor.as_dict(), correlation_id=get_correlation_id(), created_at=now,
    )  # fmt: skip
    merge.save(force_insert=True)
    snapshots = snapshot_take(tenant=tenant, contact_ids=[c.pk for c in contacts])

    moved = _move_rows(tenant, other_ids, primary.pk)

    identifiers = ContactIdentifier.objects.for_tenant(tenant)
    identifiers.filter(contact_id__in=other_ids).update(contact_id=primary.pk)
    # A value another contact got as an identifier since _identifiers_to_add looked (a concurrent
    # request) is left to it, as if it had held it first: the insert skips it (it was an
    # IntegrityError, a 500), and the event and the merge's record name only those inserted.
    proposed = [ContactIdentifier(tenant=tenant, contact=primary, channel=c, value=v, created_at=now)
                for c, v in new_identifiers]  # fmt: skip
    identifiers.bulk_create(proposed, ignore_conflicts=True)
    inserted = set(identifiers.filter(pk__in=[i.pk for i in proposed]).values_list("pk", flat=True))
    created_identifiers = [i for i in proposed if i.pk in inserted]
    if len(created_identifiers) < len(proposed):
        skipped = {(i.channel, i.value) for i in proposed if i.pk not in inserted}
        identifiers_added = [i for i in identifiers_added if (i["channel"], i["value"]) not in skipped]
    _apply_link_moves(tenant, TagAssignment, tag_moves, primary.pk)
    _apply_link_moves(tenant, ListMembership, list_moves, primary.pk)
    consent_records, consent_changes = consent_merge(
        tenant=tenant, actor=actor, merge_id=merge.pk, primary_id=primary.pk, other_ids=other_ids, now=now
    )

    # The others first: once deleted, their email and external_id no longer bind the primary.
    Contact.objects.for_tenant(tenant).filter(pk__in=other_ids).update(
        deleted_at=now, updated_at=now, merge=merge, event_sequence=F("event_sequence") + 1
    )
    plan.apply_to(primary)
    primary.updated_at = now
    sequence = primary.event_sequence
    specs: list[EventSpec] = []

    def primary_event(event_type: str, data: dict, title: str, **extra) -> EventSpec:
        nonlocal sequence
        sequence += 1
        spec = EventSpec(
            event_type, primary.pk, sequence, {"contact_id": str(primary.pk), **data}, title, **extra
        )
        specs.append(spec)
        return spec

    merged_spec = primary_event(
        "contact.merged",
        {
            "merge_id": str(merge.pk), "merged_ids": [str(i) for i in other_ids], "strategy": strategy,
            "changes": _changes_data(plan.changes), "identifiers_added": identifiers_added,
            "contact": None,  # filled below, once the sequence is known
        },
        f"Merged {len(other_ids)} contact{'s' if len(other_ids) > 1 else ''} into this one",
        event_id=new_id(),
    )  # fmt: skip
    for tag in tags:
        primary_event("contact.tagged", _tag_event(tag), f"Tagged {tag.name} (merge)")
    for contact_list in lists:
        primary_event(
            "contact.added_to_list", _list_event(contact_list), f"Added to list {contact_list.name} (merge)"
        )
    for change in consent_changes:
        primary_event(
            "contact.consent_changed", _consent_event(change, primary.pk, merge.pk),
            f"{change.channel.capitalize()} consent for {change.purpose} {change.new} (merge)",
            event_id=change.event_id,
        )  # fmt: skip
    primary.event_sequence = sequence
    primary.save(
        update_fields=[*plan.values, "display_name_custom", "attributes", "last_activity_at", "updated_at",
                       "event_sequence"]
    )  # fmt: skip
    merged_spec.data["contact"] = contact_snapshot(primary)
    for other in others:
        other.deleted_at, other.updated_at, other.merge = now, now, merge
        other.event_sequence += 1
        specs.append(
            EventSpec(
                "contact.deleted", other.pk, other.event_sequence,
                {"contact_id": str(other.pk), "reason": "merged", "merge_id": str(merge.pk),
                 "merged_into": str(primary.pk),
                 "changes": {"deleted_at": {"old": None, "new": now.isoformat()}},
                 "contact": contact_snapshot(other)},
                f"Merged into contact {primary.pk}", event_id=new_id(),
            )
        )  # fmt: skip
    event_record_many(tenant=tenant, events=specs, actor=actor, source=ChangeSource.MERGE)
    history = [
        (primary.pk, merged_spec.event_id, name, old, new) for name, (old, new) in plan.changes.items()
    ] + [
        (primary.pk, merged_spec.event_id, f"identifiers.{i['channel']}", None, i["value"])
        for i in identifiers_added
    ]
    history += [
        (spec.aggregate_id, spec.event_id, "deleted_at", None, now.isoformat())
        for spec in specs
        if spec.event_type == "contact.deleted"
    ]
    _record_history(tenant, actor, history, now)

    _refresh_segments(tenant, actor, [primary.pk])
    merge.primary_sequence = (
        Contact.objects.for_tenant(tenant).values_list("event_sequence", flat=True).get(pk=primary.pk)
    )
    merge.created = {
        "identifiers": [str(i.pk) for i in created_identifiers],
        "consent_records": [str(i) for i in consent_records],
    }
    merge.save(update_fields=["primary_sequence", "created"])
    MergeContact.objects.for_tenant(tenant).bulk_create(
        [
            MergeContact(
                tenant=tenant, merge=merge, contact_id=c.pk,
                role=MergeRole.PRIMARY if c.pk == primary.pk else MergeRole.MERGED,
                snapshot=snapshots[str(c.pk)], moved=moved.get(str(c.pk), {}),
                sequence_after=merge.primary_sequence if c.pk == primary.pk else c.event_sequence,
            )
            for c in contacts
        ]
    )  # fmt: skip
    duplicates_check(tenant.pk, [c.pk for c in contacts])
    consent = [
        {"channel": c.channel, "purpose": c.purpose, "old": c.old, "new": c.new} for c in consent_changes
    ]
    return MergeOutcome(merge, primary, plan, identifiers_added, tags, lists, consent)


def _record_history(tenant: Tenant, actor: Actor, rows: list[tuple], now) -> None:
    """History rows (source merge) for a merge or its undo, one per event, in one INSERT; `rows` are
    (contact id, event id, field, old, new) entries, in order."""
    correlation_id, actor_dict = get_correlation_id(), actor.as_dict()
    events: dict[tuple, list[tuple]] = {}
    for contact_id, event_id, name, old, new in rows:
        events.setdefault((contact_id, event_id), []).append((name, old, new))
    ContactChange.objects.for_tenant(tenant).bulk_create(
        [
            ContactChange(
                tenant=tenant, contact_id=contact_id, event_id=event_id,
                changes=ContactChange.entries(entries), actor=actor_dict, source=ChangeSource.MERGE,
                correlation_id=correlation_id, changed_at=now,
            )
            for (contact_id, event_id), entries in events.items()
        ]
    )  # fmt: skip


def _refresh_segments(tenant: Tenant, actor: Actor, contact_ids: list[uuid.UUID]) -> None:
    from lists.dynamic import segments_refresh_contacts  # lists builds on contacts

    segments_refresh_contacts(tenant=tenant, contact_ids=contact_ids, actor=actor, source=ChangeSource.MERGE)

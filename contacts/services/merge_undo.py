"""Undo a merge: every contact of it back exactly as it was before, while nothing newer depends on it.

Undo locks the merge and its contacts (id order), refuses with a 409 saying why when something
newer depends on the merge (`merge_undo_blocker`), then in one transaction:
  - puts the primary's consent states back and deletes the ledger entries the merge appended
    (consent.merging; the ledger trigger admits exactly those);
  - replaces the identifiers, tag assignments and list memberships of all the merge's contacts by
    the snapshot's rows (same ids and times; links to a tag or list deleted since stay gone);
  - moves the timeline, history and activity rows back to the contacts they came from;
  - writes the primary's row back from its snapshot, then the others' (deleted_at and merge
    cleared); event sequences keep growing and updated_at is the undo's time (sync clients see it);
  - records contact.restored per other, then for the primary contact.updated (reason
    "merge_undone") and tag, list and consent events for what changes back; refreshes segments.
The rows the merge and its undo wrote to timelines and history (source "merge") stay: they are the
record of both. The Merge row stays too, with status "undone".
"""

from __future__ import annotations

import dataclasses
import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import AttributeDefinition, ChangeSource, Contact, Merge, MergeContact, MergeStatus
from contacts.normalization import FieldError, attribute_value
from contacts.services.duplicates import duplicates_check
from contacts.services.merge_snapshot import contact_values, linked_model, rows_reassign, snapshot_objects
from contacts.services.merges import (
    _changes_data,
    _consent_event,
    _list_event,
    _moved_models,
    _record_history,
    _refresh_segments,
    _tag_and_list_data,
    _tag_event,
)
from contacts.services.recording import PUBLIC_FIELDS, contact_snapshot
from contacts_service.context import Actor
from contacts_service.errors import Conflict, NotFound
from contacts_service.ids import new_id
from contacts_service.models import Tenant
from events.services import EventSpec, event_record_many


def merge_undo_blocker(
    *, tenant: Tenant, merge: Merge, contacts: dict[uuid.UUID, Contact]
) -> Conflict | None:
    """Why the merge cannot be undone now (a Conflict to raise), or None. `contacts` are the
    merge's contacts as they are now (live or not; missing when erased)."""
    from consent.models import ConsentRecord

    if merge.status == MergeStatus.UNDONE:
        return Conflict("This merge has been undone already.", code="already_undone")
    rows = {mc.contact_id: mc for mc in merge.contacts.all()}
    ids = [merge.primary_id, *(uuid.UUID(i) for i in merge.merged_ids)]
    for contact_id in ids:
        if contact_id not in contacts or contact_id not in rows:
            return Conflict(
                f"Contact {contact_id} was erased after the merge (GDPR); it cannot come back.",
                code="erased", contact_id=str(contact_id),
            )  # fmt: skip
    later = (
        Merge.objects.for_tenant(tenant)
        .filter(status=MergeStatus.APPLIED, created_at__gte=merge.created_at, contacts__contact_id__in=ids)
        .exclude(pk=merge.pk)
        .order_by("-created_at")
        .first()
    )
    if later is not None:
        return Conflict(
            f"A later merge ({later.pk}) involves these contacts; undo it first.",
            code="later_merge", merge_id=str(later.pk),
        )  # fmt: skip
    primary = contacts[merge.primary_id]
    statements_since = (
        ConsentRecord.objects.for_tenant(tenant)
        .filter(contact_id=merge.primary_id, recorded_at__gte=merge.created_at)
        .exclude(pk__in=merge.created.get("consent_records", []))
    )
    if (
        primary.deleted_at is not None
        or primary.event_sequence != merge.primary_sequence
        or statements_since.exists()
    ):
        return Conflict(
            "The primary contact changed after the merge (its fields, identifiers, tags, lists, consent or "
            "activity); undoing would lose that change.",
            code="changed_since", contact_id=str(merge.primary_id),
        )  # fmt: skip
    for contact_id in ids[1:]:
        other = contacts[contact_id]
        if other.merge_id != merge.pk or other.event_sequence != rows[contact_id].sequence_after:
            return Conflict(
                f"Contact {contact_id} changed after the merge.",
                code="changed_since",
                contact_id=str(contact_id),
            )
    gone = _attribute_gone(tenant, ids, rows)
    if gone is not None:
        return gone
    live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True).exclude(pk__in=ids)
    for contact_id in ids:
        values = rows[contact_id].snapshot["contact"]["fields"]
        for name in ("email", "external_id"):
            holder = (
                values.get(name) and live.filter(**{name: values[name]}).values_list("pk", flat=True).first()
            )
            if holder:
                return Conflict(
                    f"Contact {holder} now has the {name} contact {contact_id} had; it cannot come back.",
                    field=name, code="unique", contact_id=str(contact_id),
                )  # fmt: skip
    return None


def _attribute_gone(tenant: Tenant, ids: list[uuid.UUID], rows: dict) -> Conflict | None:
    """A Conflict when a custom attribute value the undo would bring back is one its definition no
    longer admits (the definition deleted, a choice removed, the type changed since the merge): the
    merge's snapshot was the value's only holder, so neither change saw it."""
    definitions = {d.key: d for d in AttributeDefinition.objects.for_tenant(tenant)}
    for contact_id in ids:
        attributes = rows[contact_id].snapshot["contact"]["fields"].get("attributes") or {}
        for key, value in attributes.items():
            definition = definitions.get(key)
            problem = "its definition was deleted since"
            if definition is not None:
                try:
                    attribute_value(definition, value, f"attributes.{key}")
                    continue
                except FieldError as exc:
                    problem = f"its definition no longer admits it ({exc.message})"
            return Conflict(
                f"Contact {contact_id} had {value!r} as attribute {key}: {problem}; it cannot come back.",
                field=f"attributes.{key}", code="attribute_changed", contact_id=str(contact_id),
            )  # fmt: skip
    return None


def merge_undo_check(*, tenant: Tenant, merge_id: uuid.UUID) -> tuple[Merge, Conflict | None]:
    """The merge and why it cannot be undone now (None: it can). Nothing locked."""
    merge = Merge.objects.for_tenant(tenant).filter(pk=merge_id).first()
    if merge is None:
        raise NotFound("Merge not found.")
    ids = [merge.primary_id, *merge.merged_ids]
    contacts = {c.pk: c for c in Contact.objects.for_tenant(tenant).filter(pk__in=ids)}
    return merge, merge_undo_blocker(tenant=tenant, merge=merge, contacts=contacts)


def _restore_links(tenant: Tenant, rows: dict[uuid.UUID, MergeContact], primary_id: uuid.UUID) -> dict:
    """Replace the identifiers, tag assignments and list memberships of the merge's contacts by the
    snapshot's rows (a tag or list deleted since keeps its links gone). Returns what the primary
    had before this ({section: set of targets}), to tell what changes back for it."""
    from lists.models import ContactList
    from tags.models import Tag

    ids = list(rows)
    snapshot = {section: [r for mc in rows.values() for r in mc.snapshot[section]] for section in LINKS}
    tags = Tag.objects.for_tenant(tenant).filter(pk__in=_targets(snapshot["tags"], "tag"))
    lists = ContactList.objects.for_tenant(tenant).filter(pk__in=_targets(snapshot["lists"], "contact_list"))
    alive = {"tags": set(tags.values_list("pk", flat=True)), "lists": set(lists.values_list("pk", flat=True))}
    current = {}
    for section, target in LINKS.items():
        links = linked_model(section).objects.for_tenant(tenant)
        current[section] = set(links.filter(contact_id=primary_id).values_list(*TARGET_COLUMNS[section]))
        links.filter(contact_id__in=ids).delete()
        restored = snapshot[section]
        if target:
            restored = [r for r in restored if uuid.UUID(str(r["fields"][target])) in alive[section]]
        links.bulk_create(snapshot_objects(restored))
    return current


LINKS = {"identifiers": None, "tags": "tag", "lists": "contact_list"}
TARGET_COLUMNS = {"identifiers": ("channel", "value"), "tags": ("tag_id",), "lists": ("contact_list_id",)}


def _targets(rows: list[dict], column: str) -> list[uuid.UUID]:
    return [uuid.UUID(str(r["fields"][column])) for r in rows]


# Unique constraints an undo can meet when a value it brings back was taken after its checks (a contact
# created or an identifier added by a concurrent request): the field a 409 `unique` names.
_UNIQUE_FIELDS = {
    "contact_email_unique_live": "email",
    "contact_external_id_unique_live": "external_id",
    "identifier_unique": "identifiers",
}


@transaction.atomic
def merge_undo(*, tenant: Tenant, actor: Actor, merge_id: uuid.UUID) -> Merge:
    """_merge_undo, whose checks (merge_undo_blocker) cannot see a value taken by a request that
    commits after them: the unique index then refuses the write, and that is the same 409 `unique`,
    the merge staying applied (it was a 500)."""
    try:
        with transaction.atomic():
            return _merge_undo(tenant=tenant, actor=actor, merge_id=merge_id)
    except IntegrityError as exc:
        constraint = getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None)
        if constraint not in _UNIQUE_FIELDS:
            raise
        field = _UNIQUE_FIELDS[constraint]
        message = (
            f"Another contact now has a value of {field} this undo would bring back; it cannot come back."
        )
        raise Conflict(message, field=field, code="unique") from exc


def _merge_undo(*, tenant: Tenant, actor: Actor, merge_id: uuid.UUID) -> Merge:
    """Put every contact of the merge back as it was before it; a 409 saying why not when something
    newer depends on it (already_undone, erased, later_merge, changed_since, unique)."""
    from consent.merging import consent_merge_undo

    merge = Merge.objects.for_tenant(tenant).select_for_update().filter(pk=merge_id).first()
    if merge is None:
        raise NotFound("Merge not found.")
    ids = sorted([merge.primary_id, *(uuid.UUID(i) for i in merge.merged_ids)])
    locked = Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=ids).order_by("pk")
    contacts = {c.pk: c for c in locked}
    blocker = merge_undo_blocker(tenant=tenant, merge=merge, contacts=contacts)
    if blocker is not None:
        raise blocker
    rows = {mc.contact_id: mc for mc in merge.contacts.all()}
    primary = contacts[merge.primary_id]
    others = [contacts[uuid.UUID(i)] for i in merge.merged_ids]
    before = rows[primary.pk].snapshot
    now = timezone.now()

    consent_changes = consent_merge_undo(
        tenant=tenant, merge_id=merge.pk, primary_id=primary.pk,
        record_ids=merge.created.get("consent_records", []),
        states_before=snapshot_objects(before["consent"]),
    )  # fmt: skip
    current = _restore_links(tenant, rows, primary.pk)
    for other in others:
        for name, model in _moved_models().items():
            rows_reassign(
                tenant=tenant, model=model, ids=rows[other.pk].moved.get(name, []), contact_id=other.pk
            )

    # The primary first: it may hold an email or external_id a restored contact takes back.
    values = {c.pk: contact_values(rows[c.pk].snapshot["contact"]) for c in [primary, *others]}
    changes = {
        name: (getattr(primary, name), values[primary.pk][name])
        for name in PUBLIC_FIELDS
        if getattr(primary, name) != values[primary.pk][name]
    }
    merged_at = {other.pk: other.deleted_at for other in others}
    for contact in [primary, *others]:
        for name, value in values[contact.pk].items():
            setattr(contact, name, value)
        contact.updated_at = now

    specs: list[EventSpec] = []
    for other in others:
        other.event_sequence += 1
        specs.append(
            EventSpec(
                "contact.restored", other.pk, other.event_sequence,
                {"contact_id": str(other.pk), "reason": "merge_undone", "merge_id": str(merge.pk),
                 "changes": {"deleted_at": {"old": merged_at[other.pk].isoformat(), "new": None}},
                 "contact": contact_snapshot(other)},
                "Contact restored (merge undone)", event_id=new_id(),
            )
        )  # fmt: skip
    restored_identifiers = {(r["fields"]["channel"], r["fields"]["value"]) for r in before["identifiers"]}
    identifiers_removed = [
        {"channel": c, "value": v} for c, v in sorted(current["identifiers"] - restored_identifiers)
    ]
    updated = EventSpec(
        "contact.updated", primary.pk, primary.event_sequence + 1,
        {"contact_id": str(primary.pk), "reason": "merge_undone", "merge_id": str(merge.pk),
         "changes": _changes_data(changes), "identifiers_removed": identifiers_removed},
        "Merge undone", event_id=new_id(),
    )  # fmt: skip
    primary_specs = [
        updated,
        *_primary_link_events(tenant, primary.pk, merge.pk, current, before, consent_changes),
    ]
    primary_specs = [
        dataclasses.replace(spec, sequence=primary.event_sequence + n)
        for n, spec in enumerate(primary_specs, start=1)
    ]
    primary.event_sequence += len(primary_specs)
    updated.data["contact"] = contact_snapshot(primary)
    for contact in [primary, *others]:
        Contact.objects.for_tenant(tenant).filter(pk=contact.pk).update(
            **values[contact.pk], event_sequence=contact.event_sequence, updated_at=now
        )
    event_record_many(tenant=tenant, events=[*specs, *primary_specs], actor=actor, source=ChangeSource.MERGE)
    history = [
        (spec.aggregate_id, spec.event_id, "deleted_at", merged_at[spec.aggregate_id].isoformat(), None)
        for spec in specs
    ]
    history += [(primary.pk, updated.event_id, name, old, new) for name, (old, new) in changes.items()]
    history += [(primary.pk, updated.event_id, f"identifiers.{i['channel']}", i["value"], None)
                for i in identifiers_removed]  # fmt: skip
    _record_history(tenant, actor, history, now)

    merge.status, merge.undone_at, merge.undone_by = MergeStatus.UNDONE, now, actor.as_dict()
    merge.save(update_fields=["status", "undone_at", "undone_by"])
    _refresh_segments(tenant, actor, ids)
    _rearm_earlier_merges(tenant, rows)
    duplicates_check(tenant.pk, ids)
    return merge


def _primary_link_events(
    tenant: Tenant, primary_id: uuid.UUID, merge_id: uuid.UUID, current: dict, before: dict, consent_changes
) -> list[EventSpec]:
    """Tag, list and consent events of the primary for what the undo changes back (sequences set by
    the caller)."""
    had_tags = {t for (t,) in current["tags"]}
    had_lists = {t for (t,) in current["lists"]}
    tags_back = set(_targets(before["tags"], "tag"))
    lists_back = set(_targets(before["lists"], "contact_list"))
    tags, lists = _tag_and_list_data(tenant, sorted(had_tags ^ tags_back), sorted(had_lists ^ lists_back))
    data = {"contact_id": str(primary_id)}
    specs = []
    for tag in tags:
        gone = tag.pk in had_tags
        specs.append(EventSpec(
            "contact.untagged" if gone else "contact.tagged", primary_id, 0, {**data, **_tag_event(tag)},
            f"{'Untagged' if gone else 'Tagged'} {tag.name} (merge undone)",
        ))  # fmt: skip
    for contact_list in lists:
        gone = contact_list.pk in had_lists
        specs.append(EventSpec(
            "contact.removed_from_list" if gone else "contact.added_to_list", primary_id, 0,
            {**data, **_list_event(contact_list)},
            f"{'Removed from' if gone else 'Added to'} list {contact_list.name} (merge undone)",
        ))  # fmt: skip
    for change in consent_changes:
        specs.append(EventSpec(
            "contact.consent_changed", primary_id, 0, _consent_event(change, primary_id, merge_id),
            f"{change.channel.capitalize()} consent for {change.purpose} {change.new or 'cleared'} "
            "(merge undone)",
            event_id=change.event_id,
        ))  # fmt: skip
    return specs


def _rearm_earlier_merges(tenant: Tenant, rows: dict[uuid.UUID, MergeContact]) -> None:
    """A contact this undo put back exactly as it was may be the primary of an earlier merge that
    was undoable then: that merge expects the contact's new event sequence now."""
    now_sequences = dict(
        Contact.objects.for_tenant(tenant).filter(pk__in=list(rows)).values_list("pk", "event_sequence")
    )
    earlier = Merge.objects.for_tenant(tenant).filter(status=MergeStatus.APPLIED, primary_id__in=list(rows))
    for merge in earlier:
        before = rows[merge.primary_id].snapshot["contact"]["fields"]["event_sequence"]
        if merge.primary_sequence == before:
            merge.primary_sequence = now_sequences[merge.primary_id]
            merge.save(update_fields=["primary_sequence"])

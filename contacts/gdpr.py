"""GDPR: export everything held about a contact; erase it for good, leaving a hashed tombstone.

Personal data about a contact lives in many tables. Each one is a *source* in the registry below:
the model, the column holding the contact id, and (unless the table is only erased) the section
of the export document its rows go to and the function that exports them. Export walks the
registry; erase deletes every source's rows for the contact. Another app adds its tables with
`register_personal_data(...)` (typically in its AppConfig.ready()); tests/gdpr fails when a model
with a ForeignKey to Contact or a `contact_id` field is missing from the registry.

    register_personal_data(
        "consent.ledger",                      # -> document["consent"]["ledger"]
        model="consent.ConsentRecord",
        contact_field="contact_id",
        export=lambda tenant, contact_id: [...],
    )

Tombstones: see ErasureTombstone. `erased_values()` tells an import which of its emails and
phones belong to erased contacts, one query per kind.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import phonenumbers
from django.apps import apps
from django.db import connection, models, transaction
from django.db.models.fields.json import KT
from django.utils import timezone

from contacts.models import (
    ChangeSource,
    Contact,
    ContactChange,
    ErasureTombstone,
    IdentifierChannel,
    Merge,
    MergeContact,
    MergeStatus,
    TombstoneSalt,
)
from contacts.normalization import FieldError, canonical_email, normalize_phone
from contacts_service.context import Actor
from contacts_service.errors import Conflict, NotFound
from contacts_service.models import Tenant
from events.services import event_record

FORMAT_VERSION = 1
ERASING_SETTING = "contacts_service.erasing"

ExportFunction = Callable[[Tenant, uuid.UUID], list | dict]

# Keys of the document that are not sections.
HEADER_KEYS = frozenset({"format_version", "exported_at", "tenant_id", "contact_id"})
# Sections the document always has, empty until an app registers a source for them.
DEFAULT_SECTIONS: dict[str, Callable[[], Any]] = {"consent": dict, "activities": list}
# Tables that reference a contact on purpose after its erasure (the coverage test skips them).
KEPT_AFTER_ERASURE = frozenset({"contacts.erasuretombstone"})

PHONE_CHANNELS = frozenset({IdentifierChannel.PHONE, IdentifierChannel.SMS, IdentifierChannel.WHATSAPP})


@dataclass(frozen=True)
class PersonalDataSource:
    """One table holding personal data of contacts."""

    key: str | None  # section of the export document ("a.b" nests); None: erased, not exported
    model: str  # "app_label.ModelName"
    contact_field: str  # the field holding the contact id: "contact_id", "aggregate_id", ...
    export: ExportFunction | None  # (tenant, contact_id) -> list | dict (JSON-ready)
    where: models.Q | None = None  # extra condition, e.g. Q(aggregate_type="contact")
    tenant_field: str | None = "tenant"  # None only for tables without a tenant (contact ids are UUIDs)
    erase: bool = True  # False: a second view of a table another source erases

    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    def rows(self, tenant: Tenant, contact_id: uuid.UUID) -> models.QuerySet:
        """This table's rows of the contact, tenant-filtered explicitly (base manager, unscoped)."""
        rows = self.model_class()._base_manager.filter(**{self.contact_field: contact_id})
        if self.tenant_field:
            rows = rows.filter(**{self.tenant_field: tenant})
        if self.where is not None:
            rows = rows.filter(self.where)
        return rows


_sources: list[PersonalDataSource] = []


def register_personal_data(
    key: str | None,
    *,
    model: str,
    contact_field: str = "contact_id",
    export: ExportFunction | None = None,
    where: models.Q | None = None,
    tenant_field: str | None = "tenant",
    erase: bool = True,
) -> PersonalDataSource:
    """Add a table to what export reads and erase deletes.

    `key` places `export(tenant, contact_id)`'s result in the export document: "activities" ->
    document["activities"]; a dotted key nests, "consent.ledger" -> document["consent"]["ledger"].
    `key=None` with `export=None` declares a table that erase clears but export leaves out.
    Registering the same key and model again replaces the entry (idempotent).
    """
    if (key is None) != (export is None):
        raise ValueError("key and export go together: both set, or both None for an erase-only table")
    if key is not None:
        if key.split(".")[0] in HEADER_KEYS:
            raise ValueError(f"{key!r} is a header key of the export document")
        for other in _sources:
            if other.key is None or (other.key == key and other.model == model):
                continue
            if other.key == key or other.key.startswith(f"{key}.") or key.startswith(f"{other.key}."):
                raise ValueError(f"export key {key!r} collides with {other.key!r} ({other.model})")
    source = PersonalDataSource(
        key=key,
        model=model,
        contact_field=contact_field,
        export=export,
        where=where,
        tenant_field=tenant_field,
        erase=erase,
    )
    for index, other in enumerate(_sources):
        if (other.key, other.model, other.contact_field) == (key, model, contact_field):
            _sources[index] = source
            return source
    _sources.append(source)
    return source


def personal_data_sources() -> tuple[PersonalDataSource, ...]:
    return tuple(_sources)


# Personal data that no column ties to a contact (an import's failed rows, files): each step finds
# the contact's traces its own way and removes them, inside the erasure's transaction, before the
# contact's rows go: step(tenant, keys), keys = what identifies the contact (ErasedKeys).
@dataclass(frozen=True)
class ErasedKeys:
    contact_id: uuid.UUID
    emails: frozenset[str]  # canonical (canonical_email): its own and its email identifiers'
    phones: frozenset[str]  # E.164: its own and its phone, sms and whatsapp identifiers'
    external_id: str | None
    country: str


_erasure_steps: list[Callable[[Tenant, ErasedKeys], None]] = []


_erasure_holds: list[Callable[[Tenant, list[ErasedKeys]], None]] = []


def register_erasure_step(
    step: Callable[[Tenant, ErasedKeys], None],
    *,
    hold: Callable[[Tenant, list[ErasedKeys]], None] | None = None,
) -> None:
    """Add a step to every erasure (idempotent: the same function once). `hold`: called before the
    contact is locked, with the keys of every contact the erasure reaches (itself and those merged into
    it) as they are then, to lock in one id order the rows the step will write that other paths lock
    before contacts (a segment: a rebuild holds it, then its contacts; an import job: its batch)."""
    if step not in _erasure_steps:
        _erasure_steps.append(step)
    if hold is not None and hold not in _erasure_holds:
        _erasure_holds.append(hold)


# -- matching an erased contact's values in what other apps keep (their erasure steps) -------------

ERASED_VALUE = "[erased]"

_PHONE_LIKE = re.compile(r"[\d\s().+/-]{6,40}")


def _national_numbers(phones) -> set[str]:
    """The national significant numbers of stored E.164 phones (6 digits or more: shorter ones would
    match unrelated numbers)."""
    numbers = set()
    for phone in phones:
        try:
            number = str(phonenumbers.parse(phone).national_number)
        except phonenumbers.NumberParseException:  # not E.164 (stored before numbers were checked)
            continue
        if len(number) >= 6:
            numbers.add(number)
    return numbers


def _holds(keys: ErasedKeys, national: set[str], cell: str) -> bool:
    """Whether a cell is one of the contact's emails (any spelling), its external id (any case) or
    one of its phones written any way: its digits end with the national number, after at most a
    country code or trunk prefix (06 12 34 56 78, 0033 6.., +33 (0)6..)."""
    value = cell.strip()
    if not value:
        return False
    if keys.external_id and value.casefold() == keys.external_id.casefold():
        return True  # before the email test: an external id may hold an @ (Acct@Legacy-7)
    if "@" in value:
        return canonical_email(value) in keys.emails
    if national and _PHONE_LIKE.fullmatch(value):
        digits = re.sub(r"\D", "", value)
        return any(digits.endswith(number) and len(digits) - len(number) <= 5 for number in national)
    return False


def erased_matcher(keys: ErasedKeys) -> Callable[[str], bool]:
    """A test of a text: is it one of the erased contact's emails, phones (any spelling) or its
    external id?"""
    national = _national_numbers(keys.phones)
    return lambda cell: _holds(keys, national, cell)


def _pieces(text: str):
    """The text, its words (a search), its comma-separated parts and the value of each key:value part
    (an `attribute` filter: work_email:ann@example.com,crm_ref:X-1)."""
    yield text
    yield from text.split()
    if "," in text or ":" in text:
        for part in text.split(","):
            yield part
            _key, colon, rest = part.partition(":")
            if colon:
                yield rest


def scrub_erased(value: Any, holds: Callable[[str], bool]) -> tuple[Any, bool]:
    """`value` (JSON: filters, segment rules) with every string that holds an erased value, or whose
    words or key:value conditions one does (a search, an attribute filter), replaced by ERASED_VALUE;
    and whether anything was."""
    if isinstance(value, str):
        if any(holds(piece) for piece in _pieces(value)):
            return ERASED_VALUE, True
        return value, False
    if isinstance(value, list):
        items = [scrub_erased(item, holds) for item in value]
        return [item for item, _ in items], any(changed for _, changed in items)
    if isinstance(value, dict):
        items = {key: scrub_erased(item, holds) for key, item in value.items()}
        return {key: item for key, (item, _) in items.items()}, any(changed for _, changed in items.values())
    return value, False


# -- export ---------------------------------------------------------------------------------------

CONTACT_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "display_name",
    "company",
    "phone",
    "country",
    "city",
    "status",
    "source",
    "external_id",
    "attributes",
    "created_at",
    "updated_at",
    "last_activity_at",
    "deleted_at",
)


def contact_export(*, tenant: Tenant, contact_id: uuid.UUID) -> dict[str, Any]:
    """Everything held about a contact (live or soft-deleted), section by registered source.

    Values are JSON-ready or datetimes/UUIDs (the API's JSON renderer writes those as strings).
    """
    if not Contact.objects.for_tenant(tenant).filter(pk=contact_id).exists():
        raise NotFound("Contact not found.")
    document: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "exported_at": timezone.now(),
        "tenant_id": tenant.pk,
        "contact_id": contact_id,
    }
    for source in _sources:
        if source.export is None:
            continue
        *parents, leaf = source.key.split(".")
        section = document
        for part in parents:
            section = section.setdefault(part, {})
        section[leaf] = source.export(tenant, contact_id)
    for key, empty in DEFAULT_SECTIONS.items():
        document.setdefault(key, empty())
    return document


def _export_contact(tenant: Tenant, contact_id: uuid.UUID) -> dict:
    return Contact.objects.for_tenant(tenant).filter(pk=contact_id).values(*CONTACT_FIELDS).get()


def _export_attributes(tenant: Tenant, contact_id: uuid.UUID) -> list:
    from contacts.models import AttributeDefinition

    values = Contact.objects.for_tenant(tenant).values_list("attributes", flat=True).get(pk=contact_id)
    definitions = {
        d.key: d for d in AttributeDefinition.objects.for_tenant(tenant).filter(key__in=list(values or {}))
    }
    return [
        {
            "key": key,
            "label": definitions[key].label if key in definitions else None,
            "type": definitions[key].type if key in definitions else None,
            "value": value,
        }
        for key, value in sorted((values or {}).items())
    ]


def _export_identifiers(tenant: Tenant, contact_id: uuid.UUID) -> list:
    from contacts.models import ContactIdentifier

    rows = ContactIdentifier.objects.for_tenant(tenant).filter(contact_id=contact_id)
    return list(
        rows.order_by("channel", "created_at").values(
            "id", "channel", "value", "verified", "verified_at", "created_at"
        )
    )


def _export_history(tenant: Tenant, contact_id: uuid.UUID) -> list:
    """One entry per changed field, oldest first (the API's history, reversed)."""
    from contacts.models import ContactChangeEntry

    rows = ContactChangeEntry.objects.for_tenant(tenant).filter(contact_id=contact_id)
    return list(
        rows.order_by("changed_at", "change_id", "position").values(
            "id", "field", "old_value", "new_value", "actor", "source", "changed_at", "correlation_id",
            "event_id",
        )
    )  # fmt: skip


def _export_timeline(tenant: Tenant, contact_id: uuid.UUID) -> list:
    from events.models import TimelineEntry

    rows = TimelineEntry.objects.for_tenant(tenant).filter(contact_id=contact_id)
    return list(
        rows.order_by("occurred_at", "id").values(
            "id", "event_id", "event_type", "occurred_at", "title", "data", "actor", "source",
            "correlation_id",
        )
    )  # fmt: skip


def _export_tags(tenant: Tenant, contact_id: uuid.UUID) -> list:
    from tags.models import TagAssignment

    rows = TagAssignment.objects.for_tenant(tenant).filter(contact_id=contact_id).select_related("tag")
    return [
        {
            "id": a.tag.pk,
            "name": a.tag.name,
            "color": a.tag.color,
            "added_at": a.added_at,
            "added_by": a.added_by,
        }
        for a in rows.order_by("added_at", "id")
    ]


def _export_lists(tenant: Tenant, contact_id: uuid.UUID) -> list:
    from lists.models import ListMembership

    rows = (
        ListMembership.objects.for_tenant(tenant).filter(contact_id=contact_id).select_related("contact_list")
    )
    return [
        {
            "id": m.contact_list.pk,
            "name": m.contact_list.name,
            "kind": m.contact_list.kind,
            "added_at": m.added_at,
        }
        for m in rows.order_by("added_at", "id")
    ]


def _export_merges(tenant: Tenant, contact_id: uuid.UUID) -> list:
    """The merges the contact took part in, with the snapshot each kept of it."""
    from contacts.models import MergeContact

    rows = MergeContact.objects.for_tenant(tenant).filter(contact_id=contact_id).select_related("merge")
    return [
        {
            "merge_id": m.merge_id,
            "role": m.role,
            "status": m.merge.status,
            "primary_id": m.merge.primary_id,
            "merged_ids": m.merge.merged_ids,
            "merged_at": m.merge.created_at,
            "undone_at": m.merge.undone_at,
            "changes": m.merge.changes if m.role == "primary" else {},
            "snapshot": m.snapshot,
            "moved": m.moved,
        }
        for m in rows.order_by("merge__created_at", "id")
    ]


def _export_duplicates(tenant: Tenant, contact_id: uuid.UUID) -> list:
    """The candidate pairs naming the contact (either side): with whom, on which keys, how sure,
    whether dismissed."""
    from contacts.models import DuplicateCandidate

    pairs = DuplicateCandidate.objects.for_tenant(tenant).filter(
        models.Q(contact_a_id=contact_id) | models.Q(contact_b_id=contact_id)
    )
    return [
        {
            "id": pair.pk,
            "other_contact_id": pair.contact_b_id if pair.contact_a_id == contact_id else pair.contact_a_id,
            "reasons": pair.reasons,
            "score": pair.score,
            "name_similarity": pair.name_similarity,
            "detected_at": pair.detected_at,
            "dismissed_at": pair.dismissed_at,
        }
        for pair in pairs.order_by("detected_at", "id")
    ]


ADMIN_ACTIONS = {1: "addition", 2: "change", 3: "deletion"}


def _export_admin_log(tenant: Tenant, contact_id: uuid.UUID) -> list:
    rows = _ADMIN_LOG.rows(tenant, contact_id).order_by("action_time", "id")
    return [
        {
            "action_time": entry.action_time,
            "action": ADMIN_ACTIONS.get(entry.action_flag, str(entry.action_flag)),
            "object_repr": entry.object_repr,
            "change_message": entry.get_change_message(),
        }
        for entry in rows
    ]


register_personal_data("contact", model="contacts.Contact", contact_field="id", export=_export_contact)
register_personal_data(
    "attributes", model="contacts.Contact", contact_field="id", export=_export_attributes, erase=False
)
register_personal_data("identifiers", model="contacts.ContactIdentifier", export=_export_identifiers)
register_personal_data("tags", model="tags.TagAssignment", export=_export_tags)
register_personal_data("lists", model="lists.ListMembership", export=_export_lists)
register_personal_data("timeline", model="events.TimelineEntry", export=_export_timeline)
# History: the rows (one per change) are erased; the export reads them field by field through the
# view contacts_contactchangeentry (erase=False: a view's rows go with its table's).
register_personal_data(None, model="contacts.ContactChange")
register_personal_data("history", model="contacts.ContactChangeEntry", export=_export_history, erase=False)
register_personal_data(
    None, model="events.OutboxEvent", contact_field="aggregate_id", where=models.Q(aggregate_type="contact")
)
# Merges: each contact's snapshot in a merge is exported and erased with it; the merges whose primary
# it is go with the primary (their other contacts are erased with it, see contact_erase).
register_personal_data("merges", model="contacts.MergeContact", export=_export_merges)
register_personal_data(None, model="contacts.Merge", contact_field="primary")
register_personal_data(
    "duplicates", model="contacts.DuplicateCandidate", contact_field="contact_a", export=_export_duplicates
)
register_personal_data(None, model="contacts.DuplicateCandidate", contact_field="contact_b")  # exported above
# The admin's log of changes to a contact: object_repr holds its name or email. No tenant column.
_ADMIN_LOG = register_personal_data(
    "admin_log",
    model="admin.LogEntry",
    contact_field="object_id",
    export=_export_admin_log,
    where=models.Q(content_type__app_label="contacts", content_type__model="contact"),
    tenant_field=None,
)


# -- tombstones -----------------------------------------------------------------------------------


def _salt(tenant: Tenant, *, create: bool) -> bytes | None:
    salts = TombstoneSalt.objects.for_tenant(tenant)
    if create:
        row, _ = salts.get_or_create(tenant=tenant, defaults={"salt": secrets.token_hex(32)})
    else:
        row = salts.first()
    return bytes.fromhex(row.salt) if row else None


def _hash(salt: bytes, value: str) -> str:
    return hmac.new(salt, value.encode(), hashlib.sha256).hexdigest()


def _email_key(value: str | None) -> str | None:
    return canonical_email(value or "") or None


def _email_keys(value: str | None) -> set[str]:
    """The address's canonical key and, for tombstones written before domains had one spelling
    (lower case only), the form those hashed."""
    return {key for key in (_email_key(value), (value or "").strip().lower()) if key}


def _phone_keys(value: str | None) -> set[str]:
    try:
        key = normalize_phone(value)
    except FieldError:
        return set()  # not an international number: cannot be a stored E.164 value
    return {key} if key else set()


def erased_values(tenant: Tenant, *, emails: Iterable[str] = (), phones: Iterable[str] = ()) -> set[str]:
    """The given emails and phones (as given) that belong to an erased contact of the tenant.

    Emails match ignoring case and surrounding spaces; phones in E.164 or any international form
    (a national number without its country cannot match). One query per kind, none without a salt.
    """
    salt = _salt(tenant, create=False)
    if salt is None:
        return set()
    found: set[str] = set()
    for column, values, keys in (("email_hash", emails, _email_keys), ("phone_hash", phones, _phone_keys)):
        by_hash: dict[str, list[str]] = {}
        for value in values:
            for key in keys(value):
                by_hash.setdefault(_hash(salt, key), []).append(value)
        if not by_hash:
            continue
        hits = (
            ErasureTombstone.objects.for_tenant(tenant)
            .filter(**{f"{column}__in": list(by_hash)})
            .values_list(column, flat=True)
            .distinct()
        )
        for digest in hits:
            found.update(by_hash[digest])
    return found


def _erased_keys(tenant: Tenant, contact: Contact) -> ErasedKeys:
    from contacts.models import ContactIdentifier

    emails, phones = {_email_key(contact.email)}, {contact.phone}
    identifiers = ContactIdentifier.objects.for_tenant(tenant).filter(contact_id=contact.pk)
    for channel, value in identifiers.values_list("channel", "value"):
        if channel == IdentifierChannel.EMAIL:
            emails.add(_email_key(value))
        elif channel in PHONE_CHANNELS:
            phones.add(value)
    # The emails and phones it held before a change (its history, deleted with it): an old address
    # must not bring the person back through an import or a create any more than the last one.
    history = ContactChange.objects.for_tenant(tenant).filter(contact_id=contact.pk)
    for changes in history.values_list("changes", flat=True):
        for entry in changes or ():
            field = str(entry.get("field", ""))
            for value in (entry.get("old"), entry.get("new")):
                if not isinstance(value, str) or not value:
                    continue
                if field in ("email", "identifiers.email"):
                    emails.add(_email_key(value))
                elif field == "phone" or field in {f"identifiers.{c}" for c in PHONE_CHANNELS}:
                    phones.add(value)
    return ErasedKeys(
        contact_id=contact.pk,
        emails=frozenset(e for e in emails if e),
        phones=frozenset(p for p in phones if p),
        external_id=contact.external_id or None,
        country=contact.country,
    )


def _tombstones(*, tenant: Tenant, contact: Contact, keys: ErasedKeys, actor: Actor, erased_at):
    """One row with the contact's own email and phone hashes, one more per other email or phone
    it held as an identifier (phone, sms and whatsapp numbers are phones)."""
    salt = _salt(tenant, create=True)
    own_email, own_phone = _email_key(contact.email), contact.phone or None

    def row(email: str | None, phone: str | None) -> ErasureTombstone:
        return ErasureTombstone(
            tenant=tenant,
            contact_id=contact.pk,
            email_hash=_hash(salt, email) if email else None,
            phone_hash=_hash(salt, phone) if phone else None,
            erased_at=erased_at,
            erased_by=actor.label or actor.id,
        )

    rows = [row(own_email, own_phone)]
    rows += [row(email, None) for email in sorted(keys.emails - {own_email})]
    rows += [row(None, phone) for phone in sorted(keys.phones - {own_phone})]
    return ErasureTombstone.objects.for_tenant(tenant).bulk_create(rows)


# -- erase ----------------------------------------------------------------------------------------


def _set_erasing(on: bool) -> None:
    """Tell database triggers (the append-only consent ledger) that this transaction erases."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config(%s, %s, true)", [ERASING_SETTING, "on" if on else "off"])


# Events of a merge that carry values of its contacts: the primary's contact.merged and undo
# contact.updated, the members' contact.deleted (merged_into, their snapshot) and contact.restored.
MERGE_EVENTS_SCRUBBED = ("contact.merged", "contact.updated", "contact.deleted", "contact.restored")


def _merges_carrying(tenant: Tenant, contact_id: uuid.UUID) -> set[uuid.UUID]:
    """The merges involving the contact and those its values travelled on in: a merge of a merge's
    primary (as primary or merged) made while that merge applied recorded the primary holding the
    contact's values (snapshot, changes, events), and so on from that merge's primary."""
    merges = Merge.objects.for_tenant(tenant)
    found = {m.pk: m for m in merges.filter(contacts__contact_id=contact_id).distinct()}
    frontier = list(found.values())
    while frontier:
        merge = frontier.pop()
        later = merges.filter(contacts__contact_id=merge.primary_id, created_at__gt=merge.created_at)
        if merge.undone_at is not None:
            later = later.filter(created_at__lt=merge.undone_at)
        for other in later.distinct():
            if other.pk not in found:
                found[other.pk] = other
                frontier.append(other)
    return set(found)


def _merge_records_erase(tenant: Tenant, contact_id: uuid.UUID) -> None:
    """Remove what the merges carrying the contact's values (_merges_carrying) left on their other
    contacts: their events (MERGE_EVENTS_SCRUBBED) name the contact or its values, so their timeline
    and outbox data are cut to {contact_id, merge_id, reason, redacted} (rows and sequences kept for
    consumers) and the history rows of those events deleted; then the merges themselves go,
    snapshots included."""
    from events.models import OutboxEvent, TimelineEntry

    merge_ids = [str(i) for i in _merges_carrying(tenant, contact_id)]
    if not merge_ids:
        return
    # Found by contact, through the per-contact indexes (none of these log tables has one led by
    # tenant_id): the outbox rows stay on the merges' contacts; timeline and history rows move with a
    # merge to its primary, so they may sit on a contact its primary was merged into later.
    members = set(
        Merge.objects.for_tenant(tenant)
        .filter(pk__in=merge_ids)
        .values_list("contacts__contact_id", flat=True)
    )
    reach = _merged_into(tenant, members)
    timeline = TimelineEntry.objects.for_tenant(tenant).filter(
        contact_id__in=reach, event_type__in=MERGE_EVENTS_SCRUBBED, data__merge_id__in=merge_ids
    )
    outbox = OutboxEvent.objects.for_tenant(tenant).filter(
        aggregate_type="contact", aggregate_id__in=members, event_type__in=MERGE_EVENTS_SCRUBBED
    )
    if connection.vendor == "postgresql":  # the payload is `json`, without equality: compared as text
        outbox = outbox.alias(merge_id=KT("payload__data__merge_id")).filter(merge_id__in=merge_ids)
    else:  # SQLite's key lookup reads each value as JSON (a bare id is not): the values JSON-encoded
        outbox = outbox.filter(payload__data__merge_id__in=merge_ids)
    event_ids = {*timeline.values_list("event_id", flat=True), *outbox.values_list("event_id", flat=True)}
    ContactChange.objects.for_tenant(tenant).filter(
        contact_id__in=reach, source=ChangeSource.MERGE, event_id__in=event_ids
    ).delete()
    for entry in timeline:
        entry.data, entry.title = _redacted(entry.data), "Merge (erased under GDPR)"
        entry.save(update_fields=["data", "title"])
    for event in outbox:
        event.payload = {**event.payload, "data": _redacted(event.payload.get("data", {}))}
        event.save(update_fields=["payload"])
    Merge.objects.for_tenant(tenant).filter(pk__in=merge_ids).delete()


def _merged_into(tenant: Tenant, contact_ids: set) -> set:
    """These contacts and, transitively, the primaries they are merged into now (a merge moves a
    contact's timeline and history rows to its primary; an undo moves them back)."""
    reach, frontier = set(contact_ids), set(contact_ids)
    while frontier:
        primaries = Contact.objects.for_tenant(tenant).filter(pk__in=frontier, merge__isnull=False)
        frontier = set(primaries.values_list("merge__primary_id", flat=True)) - reach
        reach |= frontier
    return reach


def _redacted(data: dict) -> dict:
    kept = {"contact_id": data.get("contact_id"), "merge_id": data.get("merge_id"), "redacted": True}
    return kept | ({"reason": data["reason"]} if "reason" in data else {})


@transaction.atomic
def contact_erase(
    *, tenant: Tenant, actor: Actor, contact_id: uuid.UUID, source: str = ChangeSource.API
) -> dict[str, Any]:
    """Delete a contact (live or soft-deleted) and every registered source's rows of it, keep a
    hashed tombstone, emit contact.deleted with reason "erased" (no timeline entry, nothing
    personal). Returns the receipt: {contact_id, erased_at, tombstone: {email, phone}}.

    Contacts merged into this one (and not restored by an undo) are the same person: they are
    erased first, each with its own tombstone and event. A contact merged into another while that
    merge applies is refused (409 merged): its identifiers and values are the primary's now; undo the
    merge first, or erase the primary. What merges involving the contact left on other contacts and
    the merge records themselves go with it (_merge_records_erase)."""
    # The merges the contact took part in first, in id order, as merge_undo locks a merge and then its
    # contacts: locking the contacts first deadlocked with an undo of one of them.
    taken_part = MergeContact.objects.for_tenant(tenant).filter(contact_id=contact_id).values("merge_id")
    list(
        Merge.objects.for_tenant(tenant)
        .filter(pk__in=taken_part)
        .select_for_update()
        .order_by("pk")
        .values("pk")
    )
    if _erasure_holds:  # before the contacts, as the paths that lock those rows first
        reached = [_erased_keys(tenant, contact) for contact in _erased_with(tenant, contact_id)]
        for hold in _erasure_holds:
            hold(tenant, reached)
    contact = Contact.objects.for_tenant(tenant).select_for_update().filter(pk=contact_id).first()
    if contact is None:
        raise NotFound("Contact not found.")
    merge = contact.merge if contact.merge_id and contact.deleted_at else None
    if merge is not None and merge.status == MergeStatus.APPLIED:
        raise Conflict(
            f"This contact was merged into contact {merge.primary_id} and its data is that contact's now: "
            "undo the merge first, then erase it, or erase the primary (which erases it too).",
            code="merged", merge_id=str(merge.pk), primary_id=str(merge.primary_id),
        )  # fmt: skip
    return _contact_erase(tenant=tenant, actor=actor, contact=contact, source=source)


def _erased_with(tenant: Tenant, contact_id: uuid.UUID) -> list[Contact]:
    """The contact and the contacts merged into it, transitively (erased with it), read unlocked."""
    reached, frontier = [], [contact_id]
    while frontier:
        found = list(Contact.objects.for_tenant(tenant).filter(pk__in=frontier))
        reached += found
        frontier = list(
            Contact.objects.for_tenant(tenant)
            .filter(merge__primary_id__in=[c.pk for c in found], merge__status=MergeStatus.APPLIED,
                    deleted_at__isnull=False)
            .values_list("pk", flat=True)
        )  # fmt: skip
    return reached


def _contact_erase(*, tenant: Tenant, actor: Actor, contact: Contact, source: str) -> dict[str, Any]:
    merged_away = (
        Contact.objects.for_tenant(tenant)
        .select_for_update()
        .filter(merge__primary_id=contact.pk, merge__status=MergeStatus.APPLIED, deleted_at__isnull=False)
    )
    for merged in merged_away.order_by("pk"):
        _contact_erase(tenant=tenant, actor=actor, contact=merged, source=source)
    _merge_records_erase(tenant, contact.pk)
    _set_erasing(True)
    erased_at = timezone.now()
    keys = _erased_keys(tenant, contact)
    tombstones = _tombstones(tenant=tenant, contact=contact, keys=keys, actor=actor, erased_at=erased_at)
    for step in _erasure_steps:
        step(tenant, keys)
    contact_model = Contact._meta.label_lower
    erasable = [s for s in _sources if s.erase]
    # The contact row goes last: the other tables point at it.
    for item in sorted(erasable, key=lambda s: s.model.lower() == contact_model):
        item.rows(tenant, contact.pk).delete()
    event_record(
        tenant=tenant,
        event_type="contact.deleted",
        aggregate_type="contact",
        aggregate_id=contact.pk,
        sequence=contact.event_sequence + 1,
        data={"contact_id": str(contact.pk), "reason": "erased"},
        actor=actor,
        source=source,
        timeline=False,
    )
    _set_erasing(False)
    return {
        "contact_id": contact.pk,
        "erased_at": erased_at,
        "tombstone": {
            "email": any(t.email_hash for t in tombstones),
            "phone": any(t.phone_hash for t in tombstones),
        },
    }

"""Activities other services report about contacts, singly or up to 500 at a time, set-based.

A batch costs a fixed number of statements whatever its size: resolve contacts (ids and emails),
lock them in id order, drop idempotency keys already seen, insert activities, bump each contact's
event sequence and last-activity time in one UPDATE, and write the timeline entries and outbox
rows in two INSERTs (per reporting source).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from contacts.models import Contact
from contacts.normalization import FieldError, canonical_email, reject_nul
from contacts_service.bulk import bulk_update
from contacts_service.context import Actor
from contacts_service.errors import Conflict, ValidationFailed
from contacts_service.models import Tenant
from events.models import Activity
from events.services import EventSpec, event_record_many

MAX_BATCH = 500
MAX_DATA_BYTES = 16_384
ACTIVITY_TYPE = re.compile(r"^[a-z][a-z0-9_.\-]{0,63}$")
EVENT_TYPE = "contact.activity_recorded"
KEY_RACE_ATTEMPTS = 3
# Lookups of an item's contact while merges or undos of it commit meanwhile (activities_record).
LOOKUP_ROUNDS = 5


@dataclass
class ActivityInput:
    activity_type: str
    contact_id: uuid.UUID | None = None
    email: str | None = None
    occurred_at: dt.datetime | None = None
    title: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    idempotency_key: str | None = None
    source: str = ""  # the reporting service; empty: the call's


@dataclass
class ActivityResult:
    index: int
    status: str  # created | duplicate | contact_not_found
    activity: Activity | None = None
    contact_id: uuid.UUID | None = None


def activity_problems(item: ActivityInput) -> list[dict[str, str]]:
    """What is wrong with one activity, fields relative to the item (the API and services share it)."""
    errors = []
    if not ACTIVITY_TYPE.fullmatch(item.activity_type or ""):
        message = "Lower-case letters, digits, _ . - (e.g. email_opened), at most 64."
        errors.append({"field": "type", "code": "invalid", "message": message})
    if item.occurred_at and item.occurred_at > timezone.now() + dt.timedelta(minutes=5):
        errors.append({"field": "occurred_at", "code": "future", "message": "Must not be in the future."})
    for name, value in (
        ("data", item.data),
        ("title", item.title),
        ("idempotency_key", item.idempotency_key),
    ):
        try:
            reject_nul(value or "", name)
        except FieldError as exc:
            errors.append(exc.as_dict())
    try:
        size = len(
            json.dumps(item.data, allow_nan=False, ensure_ascii=False).encode("utf-8", "surrogatepass")
        )
    except ValueError:  # 1e400 parses as infinity, which no JSON column can store
        errors.append({"field": "data", "code": "invalid", "message": "Numbers must be finite."})
    else:
        if size > MAX_DATA_BYTES:
            errors.append(
                {"field": "data", "code": "too_large", "message": f"At most {MAX_DATA_BYTES} bytes."}
            )
    return errors


def _check(items: list[ActivityInput], prefix: str) -> None:
    errors = [
        {**problem, "field": f"{prefix}{index}.{problem['field']}" if prefix else problem["field"]}
        for index, item in enumerate(items)
        for problem in activity_problems(item)
    ]
    if errors:
        raise ValidationFailed(errors)


@transaction.atomic
def activities_record(
    *, tenant: Tenant, actor: Actor, items: list[ActivityInput], source: str = "", prefix: str = ""
) -> list[ActivityResult]:
    """Record activities; each item's result says created, duplicate (same idempotency key, with
    the activity recorded first) or contact_not_found. Invalid items: 400 for the whole batch.
    `source` is the reporting service of the items that do not name their own."""
    if len(items) > MAX_BATCH:
        raise ValidationFailed([{"field": prefix.rstrip(".") or "activities", "code": "too_many",
                                 "message": f"At most {MAX_BATCH} activities per call."}])  # fmt: skip
    _check(items, prefix)
    live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)
    by_id, by_email = _resolve(tenant, live, items)
    # Lock every contact concerned, in id order, in one statement (no deadlock between concurrent batches).
    # A merge or its undo committing while the lock waited changes which contact an id or email stands
    # for (a merged contact's activity landed nowhere; one for a contact an undo restored, on the other
    # person): looked up again once locked, and the contacts it names now locked too (a later round,
    # only after such a race, so out of the first statement's order), until it holds.
    contacts: dict = {}
    for _ in range(LOOKUP_ROUNDS):
        wanted = {*by_id.values(), *by_email.values()} - contacts.keys()
        contacts.update(
            (c.pk, c)
            for c in live.filter(pk__in=wanted)
            .select_for_update()
            .order_by("pk")
            .only("pk", "email", "event_sequence", "last_activity_at")
        )
        again = _resolve(tenant, live, items)
        if again == (by_id, by_email):
            break
        by_id, by_email = again
    for attempt in range(1, KEY_RACE_ATTEMPTS + 1):
        before = {pk: (c.event_sequence, c.last_activity_at) for pk, c in contacts.items()}
        try:
            with transaction.atomic():
                results, touched = _record(tenant=tenant, actor=actor, items=items, source=source,
                                           contacts=contacts, by_id=by_id, by_email=by_email,
                                           now=timezone.now())  # fmt: skip
            break
        except IntegrityError as exc:
            # A concurrent call recorded one of these keys for a contact this call has not locked, after
            # this call looked the keys up; the unique index waited for it to commit, so looking again
            # now finds its activity: these items are duplicates of it.
            for pk, (sequence, last_activity_at) in before.items():
                contacts[pk].event_sequence, contacts[pk].last_activity_at = sequence, last_activity_at
            if attempt == KEY_RACE_ATTEMPTS:
                raise Conflict("An activity with one of these idempotency keys is being recorded; retry.",
                               code="idempotency_conflict") from exc  # fmt: skip
    if touched:
        from lists.dynamic import segments_refresh_contacts  # segments may use activity rules

        sources = {r.activity.source for r in results if r.status == "created"}
        refresh_source = (sources.pop() if len(sources) == 1 else "") or "api"
        # Rules on activities and on the last-activity time (a segment using both is refreshed twice,
        # the second time changing nothing).
        for only_field in ("activity", "last_activity_at"):
            segments_refresh_contacts(tenant=tenant, contact_ids=touched, actor=actor, source=refresh_source,
                                      only_field=only_field)  # fmt: skip
    return results


def _resolve(tenant: Tenant, live, items: list[ActivityInput]) -> tuple[dict, dict]:
    """({contact id given: live contact id}, {email given: live contact id}) of the items. An id of a
    contact merged into another is its primary's (through merges of merges); an email no contact has
    as its own is the contact holding it as an email identifier (a merged contact's email is one of
    its primary's identifiers), as GET /contacts/resolve/ finds it."""
    from contacts.models import ContactIdentifier, IdentifierChannel
    from contacts.services.merges import surviving_contact_ids

    ids = {i.contact_id for i in items if i.contact_id}
    emails = {canonical_email(i.email) for i in items if i.email}
    by_id, by_email = {}, {}
    for pk, email in live.filter(Q(pk__in=ids) | Q(email__in=emails)).values_list("pk", "email"):
        if pk in ids:
            by_id[pk] = pk
        if email in emails:
            by_email[email] = pk
    # Gone: merged into another (its primary's, if live: the lock query keeps live ones only), or
    # deleted (not found).
    by_id.update(surviving_contact_ids(tenant, ids - set(by_id)))
    missing = emails - set(by_email)
    if missing:
        held = ContactIdentifier.objects.for_tenant(tenant).filter(
            channel=IdentifierChannel.EMAIL, value__in=missing, contact__deleted_at__isnull=True
        )
        by_email.update(dict(held.values_list("value", "contact_id")))
    return by_id, by_email


def _record(
    *, tenant: Tenant, actor: Actor, items: list[ActivityInput], source: str, contacts: dict, by_id: dict,
    by_email: dict, now: dt.datetime,
) -> tuple[list[ActivityResult], list[uuid.UUID]]:  # fmt: skip
    """Drop the keys already recorded, then insert the activities and their events; the caller holds
    the contacts' row locks. Returns the results and the contacts that got activities."""
    keys = {i.idempotency_key for i in items if i.idempotency_key}
    seen = {
        a.idempotency_key: a for a in Activity.objects.for_tenant(tenant).filter(idempotency_key__in=keys)
    }

    results: list[ActivityResult] = []
    new: list[Activity] = []
    for index, item in enumerate(items):
        target = by_id.get(item.contact_id) if item.contact_id else by_email.get(canonical_email(item.email))
        contact = contacts.get(target)
        if contact is None:
            results.append(ActivityResult(index=index, status="contact_not_found"))
            continue
        if item.idempotency_key and item.idempotency_key in seen:
            first = seen[item.idempotency_key]
            results.append(
                ActivityResult(index=index, status="duplicate", activity=first, contact_id=first.contact_id)
            )
            continue
        activity = Activity(
            tenant=tenant, contact_id=contact.pk, activity_type=item.activity_type,
            occurred_at=item.occurred_at or now, title=item.title, data=item.data,
            idempotency_key=item.idempotency_key, source=item.source or source, actor=actor.as_dict(),
            recorded_at=now,
        )  # fmt: skip
        if item.idempotency_key:
            seen[item.idempotency_key] = activity
        new.append(activity)
        results.append(
            ActivityResult(index=index, status="created", activity=activity, contact_id=contact.pk)
        )
    if not new:
        return results, []

    # The events of one source are written together (the timeline entry carries it): number them in
    # that order, so each contact's sequence grows with the outbox order the relay publishes in.
    new.sort(key=lambda a: a.source)
    specs: dict[str, list[EventSpec]] = {}
    touched: dict[uuid.UUID, Contact] = {}
    for activity in new:
        contact = contacts[activity.contact_id]
        contact.event_sequence += 1
        if contact.last_activity_at is None or activity.occurred_at > contact.last_activity_at:
            contact.last_activity_at = activity.occurred_at
        touched[contact.pk] = contact
        specs.setdefault(activity.source, []).append(
            EventSpec(
                event_type=EVENT_TYPE,
                aggregate_id=contact.pk,
                sequence=contact.event_sequence,
                occurred_at=activity.occurred_at,
                title=activity.title or activity.activity_type.replace("_", " ").capitalize(),
                data={
                    "contact_id": str(contact.pk),
                    "activity_id": str(activity.pk),
                    "activity_type": activity.activity_type,
                    "occurred_at": activity.occurred_at.isoformat().replace("+00:00", "Z"),
                    "title": activity.title,
                    "data": activity.data,
                    "source": activity.source,
                    "idempotency_key": activity.idempotency_key,
                },
            )
        )
    bulk_update(Contact, list(touched.values()), ["event_sequence", "last_activity_at"])
    outbox = []
    for activity_source, events in specs.items():
        outbox += event_record_many(
            tenant=tenant, events=events, actor=actor, source=activity_source or "api"
        )
    for activity, event in zip(new, outbox, strict=True):
        activity.event_id = event.event_id
    # Keys in one order for every call: two calls inserting the same keys wait for each other, never
    # both for the other (a deadlock).
    Activity.objects.for_tenant(tenant).bulk_create(sorted(new, key=lambda a: a.idempotency_key or ""))
    return results, list(touched)


def activity_condition(
    *, tenant: Tenant, activity_type: str, since: dt.datetime | None, min_count: int = 1
) -> Q:
    """Contacts (OuterRef("pk")) with at least `min_count` activities of a type since a time."""
    activities = Activity.objects.for_tenant(tenant).filter(activity_type=activity_type)
    if since is not None:
        activities = activities.filter(occurred_at__gte=since)
    if min_count <= 1:
        return Q(Exists(activities.filter(contact_id=OuterRef("pk"))))
    counted = activities.values("contact_id").annotate(n=Count("id")).filter(n__gte=min_count)
    return Q(pk__in=counted.values("contact_id"))

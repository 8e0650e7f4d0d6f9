"""Stored membership of dynamic segments: rebuild a segment, refresh one contact's segments.

Membership lives in ListMembership like static lists, so reads never re-evaluate rules; writes go
through the same set-based link/unlink statements and emit added_to_list / removed_from_list.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable
from contextlib import nullcontext

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from contacts.models import ChangeSource, Contact
from contacts.services.links import SHARE, SKIP, TargetBusy, contacts_link, contacts_unlink, target_lock
from contacts_service.context import SYSTEM_ACTOR, Actor
from contacts_service.errors import Conflict, NotFound, ValidationFailed
from contacts_service.models import Tenant
from contacts_service.names import db_name_keys
from contacts_service.queueing import delay_on_commit
from lists.models import ContactList, ListKind, ListStatus
from lists.segments import compile_rules

logger = logging.getLogger(__name__)


def _dynamic_lists(tenant: Tenant):
    return ContactList.objects.for_tenant(tenant).filter(kind=ListKind.DYNAMIC, status=ListStatus.ACTIVE)


@transaction.atomic
def segment_rebuild(
    *, tenant: Tenant, list_id: uuid.UUID, actor: Actor = SYSTEM_ACTOR, source: str = ChangeSource.SYSTEM
) -> tuple[int, int]:
    """Make the stored members of a dynamic list exactly the live contacts matching its rules.
    Returns (added, removed)."""
    from lists.services import _target

    # FOR UPDATE: a contact write refreshing this segment in its request (which holds the contact)
    # defers to a task instead of waiting (_refresh_many); one that refreshed it already is waited for, so
    # the rules are run on its change.
    contact_list = ContactList.objects.for_tenant(tenant).select_for_update().filter(pk=list_id).first()
    if contact_list is None or contact_list.kind != ListKind.DYNAMIC:
        return 0, 0
    try:
        q = compile_rules(tenant=tenant, rules=contact_list.rules, stored=True)
    except ValidationFailed as exc:  # e.g. a tag the rules name was deleted: keep members, say why
        logger.warning("segment %s not rebuilt: %s", list_id, exc.errors)
        return 0, 0
    target = _target(contact_list)
    live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)
    # Removal first: it reads only the members from before the rebuild (none for a new segment), where
    # after the linking it had to test every member just added against the rules again.
    members = live.filter(list_memberships__contact_list_id=contact_list.pk)
    removed = contacts_unlink(
        tenant=tenant, target=target, selection=members.exclude(q), actor=actor, source=source, bulk=True
    )
    added = contacts_link(  # the segment locked above
        tenant=tenant, target=target, selection=live.filter(q), actor=actor, source=source, bulk=True,
        target_mode=None,
    )  # fmt: skip
    return added, removed


# How far before a segment's fill its catch-up looks: a contact write that started before the fill and
# committed after its snapshot (requests end well within this).
CATCH_UP_MARGIN = dt.timedelta(minutes=5)


def segment_fill(*, tenant: Tenant, list_id: uuid.UUID, actor: Actor, source: str) -> tuple[int, int]:
    """Fill a segment created or made active (segment_rebuild), and right after this commits, refresh
    the contacts that changed from a little before (segment_catch_up): until this commits, contact
    writes do not see the segment, and the fill may have read them before their change."""
    from lists.tasks import segment_catch_up_task

    since = timezone.now() - CATCH_UP_MARGIN
    result = segment_rebuild(tenant=tenant, list_id=list_id, actor=actor, source=source)
    delay_on_commit(segment_catch_up_task, str(tenant.pk), str(list_id), since.isoformat(), run_here=True)
    return result


def segment_catch_up(*, tenant: Tenant, list_id: uuid.UUID, since: dt.datetime) -> None:
    """The contacts with an event (any change: fields, tags, lists, consent, activities) from `since`
    refreshed against one segment, waiting for it (see segment_fill)."""
    from events.models import OutboxEvent

    # The outbox has no index on created_at: the newest row written before `since`, found walking the
    # primary key back from the end (through the last minutes' rows only), bounds the id range instead.
    before = (
        OutboxEvent.objects.unscoped()
        .filter(created_at__lt=since)
        .order_by("-id")
        .values_list("id", flat=True)
    ).first()
    changed = (
        OutboxEvent.objects.for_tenant(tenant)
        .filter(aggregate_type="contact", id__gt=before or 0)
        .values_list("aggregate_id", flat=True)
    )
    segments = list(_dynamic_lists(tenant).filter(pk=list_id))
    _refresh_many(
        tenant=tenant, contact_ids=changed, segments=segments, actor=SYSTEM_ACTOR, source=ChangeSource.SYSTEM
    )


def segments_refresh_contact(*, tenant: Tenant, contact_id: uuid.UUID, actor: Actor, source: str) -> None:
    """After a contact changed: it enters or leaves the dynamic lists it now (no longer) matches.
    Inline when the tenant has few segments; in a task right after commit otherwise."""
    segments = list(_dynamic_lists(tenant))
    if not segments:
        return
    if len(segments) > settings.SEGMENTS_INLINE_LIMIT:
        from lists.tasks import segments_refresh_contact_task

        delay_on_commit(segments_refresh_contact_task, str(tenant.pk), str(contact_id), run_here=True)
        return
    _refresh_many(
        tenant=tenant, contact_ids=[contact_id], segments=segments, actor=actor, source=source, wait=False
    )


def _tag_rule_names(node) -> list[str]:
    """The tag names the `tags` rules of a rule group name, as written."""
    if not isinstance(node, dict):
        return []
    if node.get("field") == "tags" and isinstance(node.get("value"), list):
        return [v for v in node["value"] if isinstance(v, str)]
    if isinstance(node.get("rules"), list):
        return [name for child in node["rules"] for name in _tag_rule_names(child)]
    return []


def _renamed(node, is_old: Callable[[str], bool], new: str):
    """(rules with every tag rule's name that `is_old` replaced by `new`, whether any was)."""
    if not isinstance(node, dict):
        return node, False
    if node.get("field") == "tags" and isinstance(node.get("value"), list):
        value = [new if isinstance(v, str) and is_old(v) else v for v in node["value"]]
        return {**node, "value": value}, value != node["value"]
    if isinstance(node.get("rules"), list):
        children = [_renamed(child, is_old, new) for child in node["rules"]]
        return {**node, "rules": [c for c, _ in children]}, any(changed for _, changed in children)
    return node, False


def segments_follow_tag_rename(*, tenant: Tenant, old: str, new: str) -> int:
    """Rules name tags (as a user writes them); after a rename the segments on the tag name its new
    name, so they keep following the tag (and never the next tag to take the old name). Membership
    does not change: the same contacts hold the tag. Returns how many lists were rewritten."""
    rewritten = 0
    lists = list(
        ContactList.objects.for_tenant(tenant)
        .filter(kind=ListKind.DYNAMIC)
        .order_by("pk")  # in id order, as list_merge locks them
        .select_for_update()
        .only("pk", "rules")
    )
    # Names compared as the rules compiler compares them, the database's lower() (one query for all):
    # Python's str.lower missed "ISTANBUL" naming "İstanbul", and took "ΟΔΟΣ" renamed "οδος" for no rename.
    written = list(dict.fromkeys(name for c in lists for name in _tag_rule_names(c.rules)))
    old_key, *keys = db_name_keys([old, *written])
    olds = {name for name, key in zip(written, keys, strict=True) if key == old_key}
    for contact_list in lists if olds else ():
        rules, changed = _renamed(contact_list.rules, olds.__contains__, new)
        if changed:
            ContactList.objects.for_tenant(tenant).filter(pk=contact_list.pk).update(
                rules=rules, updated_at=timezone.now()
            )
            rewritten += 1
    return rewritten


def _named_lists(node) -> set[str]:
    """The list ids (lower-case text) the `lists` rules of a rule group name."""
    if not isinstance(node, dict):
        return set()
    if isinstance(node.get("rules"), list):
        return set().union(*(_named_lists(child) for child in node["rules"]))
    if node.get("field") == "lists" and isinstance(node.get("value"), list):
        ids = set()
        for v in node["value"]:
            try:  # as the rules compiler reads them: any form uuid.UUID takes (hex, braces, urn)
                ids.add(str(uuid.UUID(str(v))))
            except ValueError:
                continue
        return ids
    return set()


def _named_tags(node) -> set[str]:
    """The tag names the `tags` rules of a rule group name, as written."""
    if not isinstance(node, dict):
        return set()
    if isinstance(node.get("rules"), list):
        return set().union(*(_named_tags(child) for child in node["rules"]))
    if node.get("field") == "tags" and isinstance(node.get("value"), list):
        return {v for v in node["value"] if isinstance(v, str)}
    return set()


def _named_fields(node) -> set[str]:
    """The fields the rules of a rule group are on, as written."""
    if not isinstance(node, dict):
        return set()
    if isinstance(node.get("rules"), list):
        return set().union(*(_named_fields(child) for child in node["rules"]))
    field = node.get("field")
    return {field} if isinstance(field, str) else set()


def rules_names_hold(*, tenant: Tenant, rules) -> None:
    """Hold what a segment's rules name by name (FOR SHARE) until the caller, which saves the rules,
    commits: the tags, so a rename (tag_update, FOR UPDATE) waits and rewrites these rules too
    (segments_follow_tag_rename), where it missed a segment not committed yet, left naming a tag gone;
    the attribute definitions and consent purposes, so their deletion (FOR UPDATE, then a 409 when a
    segment names them) waits and sees this one, where both committed and the segment froze.
    Call it before checking the rules: a rename or deletion that came first makes the name unknown (a 400)."""
    if connection.vendor != "postgresql":
        return
    # A name with a NUL names nothing (PostgreSQL's text refuses it): left for the rules check, a 400.
    tags = [" ".join(name.split()) for name in _named_tags(rules) if "\x00" not in name]
    fields = [f for f in _named_fields(rules) if "\x00" not in f]
    keys = [f.removeprefix("attributes.") for f in fields if f.startswith("attributes.")]
    purposes = [f.split(".", 2)[2] for f in fields if f.startswith("consent.") and f.count(".") >= 2]
    with connection.cursor() as cursor:
        if tags:
            cursor.execute(
                "SELECT 1 FROM tags_tag WHERE tenant_id = %s AND lower(name) = "
                "ANY(ARRAY(SELECT lower(n) FROM unnest(%s::text[]) AS n)) ORDER BY id FOR SHARE",
                [tenant.pk, tags],
            )
        for table, names in (("contacts_attributedefinition", keys), ("consent_consentpurpose", purposes)):
            if names:
                cursor.execute(
                    f"SELECT 1 FROM {table} WHERE tenant_id = %s AND key = ANY(%s) ORDER BY id FOR SHARE",  # noqa: S608 (constant)
                    [tenant.pk, names],
                )


def segments_follow_tag_names(*, tenant: Tenant, names) -> None:
    """A tag now has one of `names` (created, or renamed to it): a segment whose rules name it was
    frozen on a deleted tag of that name, and follows the new tag from now on: rebuilt once this
    commits."""
    from lists.tasks import segment_rebuild_task

    segments = [(s, list(_named_tags(s.rules))) for s in _dynamic_lists(tenant).only("pk", "rules")]
    written = sorted({name for _, named in segments for name in named})
    # Compared as the database compares tag names, lower(name): one query for all of them.
    key_of = dict(zip(written, db_name_keys(written), strict=True))
    keys = set(db_name_keys(list(names)))
    for segment, named in segments:  # active ones: re-activating one rebuilds it
        if {key_of[name] for name in named} & keys:
            delay_on_commit(segment_rebuild_task, str(tenant.pk), str(segment.pk), run_here=True)


def segments_naming(*, tenant: Tenant, list_ids) -> list[ContactList]:
    """The tenant's dynamic lists whose rules name one of `list_ids`."""
    wanted = {str(i) for i in list_ids}
    segments = ContactList.objects.for_tenant(tenant).filter(kind=ListKind.DYNAMIC).order_by("name")
    return [s for s in segments.only("pk", "name", "rules") if _named_lists(s.rules) & wanted]


def refuse_if_named(naming: list[ContactList], what: str) -> None:
    """409 in_use listing the segments whose rules name `what` (a list, an attribute, a consent purpose)
    about to go."""
    if naming:
        raise Conflict(
            f"The rules of {len(naming)} dynamic list(s) name {what} "
            f"({', '.join(repr(s.name) for s in naming[:5])}); change their rules first.",
            code="in_use",
            segments=[{"id": str(s.pk), "name": s.name} for s in naming],
        )


def segments_naming_field(*, tenant: Tenant, fields: list[str]) -> list[ContactList]:
    """The tenant's dynamic lists (archived too) whose rules have a rule on one of `fields` exactly."""
    mentions = Q()
    for field in fields:
        mentions |= Q(rules__icontains=field)
    segments = ContactList.objects.for_tenant(tenant).filter(mentions, kind=ListKind.DYNAMIC)
    return [
        s
        for s in segments.order_by("name").only("pk", "name", "rules")
        if any(rules_mention(s.rules, field, exact=True) for field in fields)
    ]


def rules_mention(rules, field_prefix: str, *, exact: bool = False) -> bool:
    """Whether any rule of a (nested) rule group is on a field starting with `field_prefix` (exact:
    on that field)."""
    if isinstance(rules, dict):
        field = rules.get("field")
        if isinstance(field, str) and (field == field_prefix if exact else field.startswith(field_prefix)):
            return True
        return any(rules_mention(child, field_prefix, exact=exact) for child in rules.get("rules") or [])
    return False


def segments_refresh_contacts(
    *, tenant: Tenant, contact_ids: list[uuid.UUID], actor: Actor, source: str, only_field: str = ""
) -> None:
    """After a batch changed some contacts: two set-based statements per segment (link those now
    matching, unlink those no longer matching), optionally only for segments whose rules use
    `only_field`. Inline for few segments, else in a task right after commit."""
    segments = [s for s in _dynamic_lists(tenant) if not only_field or rules_mention(s.rules, only_field)]
    if not segments or not contact_ids:
        return
    if len(segments) > settings.SEGMENTS_INLINE_LIMIT:
        from lists.tasks import segments_refresh_contacts_task

        ids = [str(i) for i in contact_ids]
        delay_on_commit(segments_refresh_contacts_task, str(tenant.pk), ids, only_field, run_here=True)
        return
    _refresh_many(
        tenant=tenant, contact_ids=contact_ids, segments=segments, actor=actor, source=source, wait=False
    )


def _refresh_many(
    *, tenant: Tenant, contact_ids, segments, actor: Actor, source: str, wait: bool = True
) -> None:
    """Link the contacts to the segments they match, unlink them from those they no longer match.
    wait=False (in the request that changed them, holding them): a segment another transaction holds
    (its deletion, a rules change, a rebuild, which lock its contacts next) is not waited for, which
    deadlocked, but left to a task right after this commits; that task waits for it, then reads the
    rules it left (a rules change committing meanwhile is followed)."""
    from lists.services import _target
    from lists.tasks import segments_refresh_contacts_task

    busy = False
    for contact_list in segments:
        try:
            # Each segment's rules are read again once it is locked: a rules change or an archive that
            # committed after `segments` was read is what runs (the stale rules linked the contact).
            with transaction.atomic() if wait else nullcontext():
                target_lock(_target(contact_list), SHARE if wait else SKIP)
                current = _dynamic_lists(tenant).filter(pk=contact_list.pk).first()
                if current is not None:
                    _refresh_one(tenant, current, contact_ids, actor=actor, source=source)
        except NotFound:  # deleted while this waited for it (target_lock)
            continue
        except TargetBusy:
            busy = True
    if busy:
        ids = [str(i) for i in contact_ids]
        delay_on_commit(segments_refresh_contacts_task, str(tenant.pk), ids, "", run_here=True)


def _refresh_one(tenant: Tenant, contact_list: ContactList, contact_ids, *, actor, source) -> None:
    """Refresh one segment the caller holds (target_lock)."""
    from lists.services import _target

    try:
        q = compile_rules(tenant=tenant, rules=contact_list.rules, stored=True)
    except ValidationFailed:
        return
    target = _target(contact_list)
    some = Contact.objects.for_tenant(tenant).filter(pk__in=contact_ids, deleted_at__isnull=True)
    members = some.filter(list_memberships__contact_list_id=contact_list.pk)
    contacts_link(
        tenant=tenant, target=target, selection=some.filter(q), actor=actor, source=source, target_mode=None
    )
    contacts_unlink(tenant=tenant, target=target, selection=members.exclude(q), actor=actor, source=source)


def time_relative_segments():
    """Active dynamic lists (every tenant) whose rules depend on the clock ("in the last N days"):
    their membership drifts as time passes, so a periodic task rebuilds them."""
    candidates = ContactList.objects.unscoped().filter(
        kind=ListKind.DYNAMIC, status=ListStatus.ACTIVE, rules__icontains="in_last_days"
    )
    return [c for c in candidates.only("pk", "tenant_id", "rules") if "in_last_days" in json.dumps(c.rules)]


def segments_rebuild_later(*, tenant: Tenant) -> None:
    """After a bulk change (tags, static lists): rebuild the tenant's segments once it commits."""
    if not _dynamic_lists(tenant).exists():
        return
    from lists.tasks import segments_rebuild_tenant_task

    delay_on_commit(segments_rebuild_tenant_task, str(tenant.pk), run_here=True)

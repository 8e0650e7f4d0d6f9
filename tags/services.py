"""Every write to tags and tag assignments."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import QuerySet, Value
from django.db.models.functions import Lower
from django.utils import timezone

from contacts.models import ChangeSource, Contact
from contacts.services.links import (
    KEY_SHARE,
    LinkTarget,
    contacts_link,
    contacts_lock,
    contacts_unlink,
    target_delete,
)
from contacts_service.context import Actor
from contacts_service.errors import NotFound, ValidationFailed
from contacts_service.models import Tenant
from contacts_service.names import db_name_keys, name_check_free, name_clean
from lists.dynamic import (
    segments_follow_tag_names,
    segments_follow_tag_rename,
    segments_rebuild_later,
    segments_refresh_contact,
)
from tags.models import DEFAULT_COLOR, Tag, TagAssignment, color_validator

MAX_TAG_NAME = 100
# What separates tag names in a filter (commas), an import's tags column (any) and an export ("; ").
TAG_SEPARATORS = re.compile(r"[,;|]")


def _clean_name(name: str, field: str = "name") -> str:
    """A tag name has no comma, semicolon or vertical bar: the `tags` filters separate names with
    commas, an import's tags column with any of the three (and an export joins them with "; "), so
    "Paris, France" would select the holders of "Paris" and of "France", and "R;D" come back from an
    exported file as "R" and "D". (Checked for a name being given to a tag: one named so before the
    rule is still found by it, see tags_by_name.)"""
    cleaned = name_clean(name, label="tag", field=field, max_length=MAX_TAG_NAME)
    _refuse_separators(cleaned, field)
    return cleaned


def _refuse_separators(name: str, field: str) -> None:
    if TAG_SEPARATORS.search(name):
        message = "Must not contain , ; or |: filters, imports and exports separate tag names with them."
        raise ValidationFailed([{"field": field, "code": "invalid", "message": message}])


def _name_taken(tenant: Tenant, name: str, exclude: uuid.UUID | None = None) -> None:
    name_check_free(Tag.objects.for_tenant(tenant), name, label="Tag", exclude=exclude)


def _clean_color(color: str | None) -> str:
    color = (color or DEFAULT_COLOR).strip()
    try:
        color_validator(color)
    except Exception as exc:
        raise ValidationFailed(
            [{"field": "color", "code": "invalid", "message": "Must be a colour as #RRGGBB."}]
        ) from exc
    return color.upper()


@transaction.atomic
def tag_create(*, tenant: Tenant, name: str, color: str | None = None, description: str = "") -> Tag:
    name = _clean_name(name)
    _name_taken(tenant, name)
    tag = Tag(tenant=tenant, name=name, color=_clean_color(color), description=description or "")
    _save(tag, force_insert=True)
    segments_follow_tag_names(tenant=tenant, names=[tag.name])
    return tag


def _save(tag: Tag, **kwargs) -> None:
    """Save; a name taken meanwhile (the check before it raced a concurrent request) is a 400."""
    try:
        with transaction.atomic():
            tag.save(**kwargs)
    except IntegrityError as exc:
        raise ValidationFailed(
            [{"field": "name", "code": "unique", "message": "A tag with this name exists."}]
        ) from exc


@transaction.atomic
def tag_update(*, tenant: Tenant, tag_id: uuid.UUID, changes: dict) -> Tag:
    """Rename, recolour or describe a tag (assignments keep pointing at it). Locked FOR NO KEY UPDATE:
    no column a foreign key can use changes (the name's unique index is on lower(name)), so a contact
    being tagged (FOR KEY SHARE, holding its contact) passes, where it waited on a rename that waited on
    a segment rebuild waiting on that contact (a deadlock); FOR SHARE holders (rules naming the tag, a
    bulk apply) still wait for it."""
    tag = Tag.objects.for_tenant(tenant).select_for_update(no_key=True).filter(pk=tag_id).first()
    if tag is None:
        raise NotFound("Tag not found.")
    if not changes:
        raise ValidationFailed(
            [{"field": None, "code": "empty", "message": "Send at least one field to change."}]
        )
    old_name = tag.name
    if "name" in changes:
        tag.name = _clean_name(changes["name"])
        _name_taken(tenant, tag.name, exclude=tag.pk)
    if "color" in changes:
        tag.color = _clean_color(changes["color"])
    if "description" in changes:
        tag.description = changes["description"] or ""
    tag.updated_at = timezone.now()
    _save(tag)
    old_key, new_key = db_name_keys([old_name, tag.name])
    if old_key != new_key:  # as the rules compare names: the database's lower()
        # Segments still naming the new name (frozen on a deleted tag) follow this tag: rebuilt. Then
        # those naming the old name are rewritten to the new one; their members stay as they are.
        segments_follow_tag_names(tenant=tenant, names=[tag.name])
        segments_follow_tag_rename(tenant=tenant, old=old_name, new=tag.name)
    return tag


def _target(tag: Tag) -> LinkTarget:
    return LinkTarget(
        model=TagAssignment,
        column="tag_id",
        target_id=tag.pk,
        linked_event="contact.tagged",
        unlinked_event="contact.untagged",
        data={"tag": {"id": str(tag.pk), "name": tag.name, "color": tag.color}},
        title_linked=f"Tagged {tag.name}",
        title_unlinked=f"Untagged {tag.name}",
    )


@transaction.atomic
def tag_delete(*, tenant: Tenant, actor: Actor, tag_id: uuid.UUID, source: str = ChangeSource.API) -> int:
    """Delete a tag; each contact that had it is untagged (with its event). Returns that count."""
    tag = Tag.objects.for_tenant(tenant).select_for_update(no_key=True).filter(pk=tag_id).first()
    if tag is None:
        raise NotFound("Tag not found.")
    removed = target_delete(tenant=tenant, target=_target(tag), instance=tag, actor=actor, source=source)
    if removed:
        segments_rebuild_later(tenant=tenant)
    return removed


def tags_get_or_create(*, tenant: Tenant, names: Sequence[str]) -> list[Tag]:
    """Tags by name (any case), created when unknown; in the order given, without duplicates."""
    return list({tag.pk: tag for tag in tags_by_name(tenant=tenant, names=names).values()}.values())


def tags_by_name(*, tenant: Tenant, names: Sequence[str]) -> dict[str, Tag]:
    """tags_get_or_create as {name as given: tag}: how a caller holding the names as written finds each
    one's tag. Names are one tag when the database's lower() makes them one (the unique index's
    compare): Python's str.lower took "ΟΔΟΣ" and "οδος", two tags, for one name and dropped one."""
    fields = [f"tags.{index}" for index in range(len(names))]
    cleaned = [name_clean(name, label="tag", field=field, max_length=MAX_TAG_NAME) for name, field in
               zip(names, fields, strict=True)]  # fmt: skip
    keys = db_name_keys(cleaned)
    wanted: dict[str, tuple[str, str]] = {}  # database key -> the first spelling of it, its field
    for name, key, field in zip(cleaned, keys, fields, strict=True):
        wanted.setdefault(key, (name, field))
    existing: dict[str, Tag] = {}
    if wanted:
        found = Tag.objects.for_tenant(tenant).annotate(key=Lower("name")).filter(key__in=list(wanted))
        existing = {tag.key: tag for tag in found}
    # The missing ones are created in the order of their key, whatever the caller's: two requests
    # creating "a" and "b" in opposite orders each waited on the other's uncommitted name (deadlock).
    missing = sorted(key for key in wanted if key not in existing)
    for key in missing:  # a new tag's name is checked whole; an existing tag is found by its name
        _refuse_separators(*wanted[key])
    created = []
    for key in missing:
        name = wanted[key][0]
        try:
            with transaction.atomic():
                tag = Tag.objects.for_tenant(tenant).create(tenant=tenant, name=name)
            created.append(name)
        except IntegrityError:  # created meanwhile by a concurrent request
            tag = Tag.objects.for_tenant(tenant).alias(key=Lower("name")).get(key=Lower(Value(name)))
        existing[key] = tag
    if created:
        segments_follow_tag_names(tenant=tenant, names=created)
    return {name: existing[key] for name, key in zip(names, keys, strict=True)}


@transaction.atomic
def contact_tag(
    *,
    tenant: Tenant,
    actor: Actor,
    contact_id: uuid.UUID,
    names: Sequence[str],
    source: str = ChangeSource.API,
) -> list[Tag]:
    """Put tags (by name; unknown names are created) on one contact (row-locked first, see contacts_lock)."""
    if not contacts_lock(tenant=tenant, contact_ids=[contact_id]):
        raise NotFound("Contact not found.")
    tags = tags_get_or_create(tenant=tenant, names=names)
    selection = Contact.objects.for_tenant(tenant).filter(pk=contact_id)
    changed = 0
    for tag in tags:
        changed += contacts_link(  # holding the contact: KEY_SHARE (see target_delete)
            tenant=tenant, target=_target(tag), selection=selection, actor=actor, source=source,
            target_mode=KEY_SHARE,
        )  # fmt: skip
    if changed:
        segments_refresh_contact(tenant=tenant, contact_id=contact_id, actor=actor, source=source)
    return tags


@transaction.atomic
def contact_untag(
    *, tenant: Tenant, actor: Actor, contact_id: uuid.UUID, tag_id: uuid.UUID, source: str = ChangeSource.API
) -> None:
    """Take a tag off one contact (row-locked first, see contacts_lock)."""
    if not contacts_lock(tenant=tenant, contact_ids=[contact_id]):
        raise NotFound("Contact not found.")
    tag = Tag.objects.for_tenant(tenant).filter(pk=tag_id).first()
    if (
        tag is None
        or not TagAssignment.objects.for_tenant(tenant).filter(tag=tag, contact_id=contact_id).exists()
    ):
        raise NotFound("This contact does not have this tag.")
    selection = Contact.objects.for_tenant(tenant).filter(pk=contact_id)
    contacts_unlink(tenant=tenant, target=_target(tag), selection=selection, actor=actor, source=source)
    segments_refresh_contact(tenant=tenant, contact_id=contact_id, actor=actor, source=source)


def tag_bulk(
    *,
    tenant: Tenant,
    actor: Actor,
    tag_id: uuid.UUID,
    selection: QuerySet[Contact],
    remove: bool = False,
    source: str = ChangeSource.API,
) -> int:
    """Apply (or remove) one tag for every contact of a selection in one statement."""
    tag = Tag.objects.for_tenant(tenant).filter(pk=tag_id).first()
    if tag is None:
        raise NotFound("Tag not found.")
    operation = contacts_unlink if remove else contacts_link
    changed = operation(
        tenant=tenant, target=_target(tag), selection=selection, actor=actor, source=source, bulk=True
    )
    if changed:
        segments_rebuild_later(tenant=tenant)
    return changed

"""Every write to lists and list membership."""

from __future__ import annotations

import logging
import uuid

from django.db import IntegrityError, models, transaction
from django.db.models import Count, QuerySet
from django.utils import timezone
from guardian.shortcuts import assign_perm

from contacts.models import ChangeSource, Contact
from contacts.services.links import LinkTarget, contacts_link, contacts_unlink, target_delete
from contacts_service.context import Actor
from contacts_service.errors import Conflict, NotFound, ValidationFailed
from contacts_service.models import Membership, Tenant
from contacts_service.names import name_check_free, name_clean
from lists.dynamic import (
    refuse_if_named,
    rules_names_hold,
    segment_fill,
    segment_rebuild,
    segments_naming,
    segments_rebuild_later,
)
from lists.models import ContactList, ContactListUserPermission, ListKind, ListMembership, ListStatus
from lists.segments import compile_rules

logger = logging.getLogger(__name__)


def _clean_name(name: str) -> str:
    return name_clean(name, label="list", max_length=150)


def _name_taken(tenant: Tenant, name: str, exclude: uuid.UUID | None = None) -> None:
    name_check_free(ContactList.objects.for_tenant(tenant), name, label="List", exclude=exclude)


def _list(tenant: Tenant, list_id: uuid.UUID, *, lock: bool = False, no_key: bool = False) -> ContactList:
    """The tenant's list (row-locked with lock=True: FOR UPDATE, or FOR NO KEY UPDATE), or a 404."""
    lists = ContactList.objects.for_tenant(tenant)
    contact_list = (lists.select_for_update(no_key=no_key) if lock else lists).filter(pk=list_id).first()
    if contact_list is None:
        raise NotFound("List not found.")
    return contact_list


def _save(contact_list: ContactList, **kwargs) -> None:
    try:
        with transaction.atomic():
            contact_list.save(**kwargs)
    except IntegrityError as exc:
        raise ValidationFailed(
            [{"field": "name", "code": "unique", "message": "A list with this name exists."}]
        ) from exc


@transaction.atomic
def list_create(
    *, tenant: Tenant, actor: Actor, name: str, description: str = "", kind: str = ListKind.STATIC,
    status: str = ListStatus.ACTIVE, rules: dict | None = None, stored_rules: bool = False,
) -> ContactList:  # fmt: skip
    """`stored_rules`: rules copied from a saved segment, checked as its upkeep reads them (a segment
    saved before a check tightened can still be copied; see lists.segments._Compiler.stored)."""
    name = _clean_name(name)
    _name_taken(tenant, name)
    if kind == ListKind.DYNAMIC:
        if rules is None:
            raise ValidationFailed(
                [{"field": "rules", "code": "required", "message": "A dynamic list needs rules."}]
            )
        rules_names_hold(tenant=tenant, rules=rules)
        compile_rules(tenant=tenant, rules=rules, stored=stored_rules)
    elif rules is not None:
        raise ValidationFailed(
            [{"field": "rules", "code": "invalid", "message": "Only dynamic lists have rules."}]
        )
    contact_list = ContactList(
        tenant=tenant, name=name, description=description or "", kind=kind, status=status, rules=rules,
        created_by=actor.as_dict(),
    )  # fmt: skip
    _save(contact_list, force_insert=True)
    if kind == ListKind.DYNAMIC:
        segment_fill(tenant=tenant, list_id=contact_list.pk, actor=actor, source=ChangeSource.API)
    return contact_list


@transaction.atomic
def list_update(*, tenant: Tenant, actor: Actor, list_id: uuid.UUID, changes: dict) -> ContactList:
    if "rules" in changes:  # the tags before the list, as a tag rename locks them (tag, then segments)
        rules_names_hold(tenant=tenant, rules=changes["rules"])
    contact_list = _list(tenant, list_id, lock=True)
    if not changes:
        raise ValidationFailed(
            [{"field": None, "code": "empty", "message": "Send at least one field to change."}]
        )
    if "kind" in changes and changes["kind"] != contact_list.kind:
        raise ValidationFailed(
            [{"field": "kind", "code": "immutable", "message": "The kind of a list cannot change."}]
        )
    if "name" in changes:
        contact_list.name = _clean_name(changes["name"])
        _name_taken(tenant, contact_list.name, exclude=contact_list.pk)
    for field in ("description", "status"):
        if field in changes:
            setattr(contact_list, field, changes[field] or "")
    rules_changed = "rules" in changes and changes["rules"] != contact_list.rules
    if "rules" in changes:
        if contact_list.kind != ListKind.DYNAMIC:
            raise ValidationFailed(
                [{"field": "rules", "code": "invalid", "message": "Only dynamic lists have rules."}]
            )
        compile_rules(tenant=tenant, rules=changes["rules"])
        contact_list.rules = changes["rules"]
    contact_list.updated_at = timezone.now()
    _save(contact_list)
    if changes.get("status") == ListStatus.ACTIVE and contact_list.kind == ListKind.DYNAMIC:
        # Made active: contact writes skipped it (and defer to it while this holds it)
        segment_fill(tenant=tenant, list_id=contact_list.pk, actor=actor, source=ChangeSource.API)
    elif rules_changed:  # contact writes meanwhile defer to a task that waits for this (_refresh_many)
        segment_rebuild(tenant=tenant, list_id=contact_list.pk, actor=actor, source=ChangeSource.API)
    return contact_list


def _target(contact_list: ContactList) -> LinkTarget:
    return LinkTarget(
        model=ListMembership,
        column="contact_list_id",
        target_id=contact_list.pk,
        linked_event="contact.added_to_list",
        unlinked_event="contact.removed_from_list",
        data={"list": {"id": str(contact_list.pk), "name": contact_list.name, "kind": contact_list.kind}},
        title_linked=f"Added to list {contact_list.name}",
        title_unlinked=f"Removed from list {contact_list.name}",
    )


def _refuse_if_imported_into(tenant: Tenant, contact_list: ContactList) -> None:
    """An import queued or running into the list would go on without it, adding its rows to no list
    and saying nothing: the list stays until the import ends (409 in_use naming the imports)."""
    from imports.models import ACTIVE_STATUSES, ImportJob

    imports = list(
        ImportJob.objects.for_tenant(tenant)
        .filter(status__in=ACTIVE_STATUSES, list_id=contact_list.pk)
        .values_list("pk", flat=True)[:20]
    )
    if imports:
        raise Conflict(
            f"Import {imports[0]}, under way, adds its rows to {contact_list.name!r}; delete the list once "
            "it has ended.",
            code="in_use",
            imports=[str(pk) for pk in imports],
        )


@transaction.atomic
def list_delete(*, tenant: Tenant, actor: Actor, list_id: uuid.UUID, source: str = ChangeSource.API) -> int:
    """Delete a list; every member leaves it (with its event). Returns how many left. Refused while a
    segment's rules name it (a list id never comes back, so the segment could never be rebuilt) or an
    import under way adds its rows to it."""
    contact_list = _list(tenant, list_id, lock=True, no_key=True)  # see target_delete
    refuse_if_named(segments_naming(tenant=tenant, list_ids=[contact_list.pk]), repr(contact_list.name))
    _refuse_if_imported_into(tenant, contact_list)
    return target_delete(
        tenant=tenant, target=_target(contact_list), instance=contact_list, actor=actor, source=source
    )


def list_members_change(
    *,
    tenant: Tenant,
    actor: Actor,
    list_id: uuid.UUID,
    selection: QuerySet[Contact],
    remove: bool = False,
    source: str = ChangeSource.API,
) -> int:
    """Add (or remove) the selected contacts to a static list in one statement; returns the count changed."""
    contact_list = _list(tenant, list_id)
    if contact_list.kind != ListKind.STATIC:
        raise Conflict(
            "Members of a dynamic list follow its rules; they cannot be changed by hand.", code="dynamic"
        )
    operation = contacts_unlink if remove else contacts_link
    changed = operation(
        tenant=tenant,
        target=_target(contact_list),
        selection=selection,
        actor=actor,
        source=source,
        bulk=True,
    )
    if changed:
        segments_rebuild_later(tenant=tenant)  # segments may have rules on static lists
    return changed


# --- Set operations: copy, merge, combine -------------------------------------------------------

MAX_SET_LISTS = 50


class SetOperation(models.TextChoices):
    UNION = "union", "In any of the lists"
    INTERSECTION = "intersection", "In every list"
    DIFFERENCE = "difference", "In the first list and in none of the others"
    AT_LEAST = "at_least", "In at least `min_lists` of the lists"


def _source_lists(tenant: Tenant, list_ids: list[uuid.UUID], field: str = "lists") -> list[ContactList]:
    """The tenant's lists with these ids, in the order given; any unknown (or other tenant's) id is a 400
    naming it, so nothing is combined from a list the caller cannot see."""
    if not list_ids:
        raise ValidationFailed([{"field": field, "code": "required", "message": "Name at least one list."}])
    if len(list_ids) > MAX_SET_LISTS:
        raise ValidationFailed(
            [{"field": field, "code": "max_length", "message": f"At most {MAX_SET_LISTS} lists."}]
        )
    if len(set(list_ids)) != len(list_ids):
        raise ValidationFailed([{"field": field, "code": "duplicate", "message": "A list is named twice."}])
    found = {lst.pk: lst for lst in ContactList.objects.for_tenant(tenant).filter(pk__in=list_ids)}
    missing = [str(list_id) for list_id in list_ids if list_id not in found]
    if missing:
        raise ValidationFailed(
            [
                {
                    "field": field,
                    "code": "not_found",
                    "message": f"No such list in this tenant: {', '.join(missing)}.",
                }
            ]
        )
    return [found[list_id] for list_id in list_ids]


def _members_of(tenant: Tenant, lists: list[ContactList]) -> QuerySet:
    return ListMembership.objects.for_tenant(tenant).filter(contact_list_id__in=[lst.pk for lst in lists])


def combined_selection(
    *, tenant: Tenant, lists: list[ContactList], operation: str, min_lists: int | None = None
) -> QuerySet[Contact]:
    """The contacts a set operation over lists selects, as one query (no ids in Python)."""
    contacts = Contact.objects.for_tenant(tenant)
    if operation == SetOperation.DIFFERENCE:
        base, others = lists[0], lists[1:]
        ids = _members_of(tenant, [base]).exclude(
            contact_id__in=_members_of(tenant, others).values("contact_id")
        )
        return contacts.filter(id__in=ids.values("contact_id"))
    if operation == SetOperation.UNION:
        return contacts.filter(id__in=_members_of(tenant, lists).values("contact_id"))
    needed = len(lists) if operation == SetOperation.INTERSECTION else min_lists
    # One membership row per (list, contact), so the number of rows of a contact is its number of lists.
    ids = (
        _members_of(tenant, lists)
        .values("contact_id")
        .annotate(in_lists=Count("id"))
        .filter(in_lists__gte=needed)
        .values("contact_id")
    )
    return contacts.filter(id__in=ids)


def _check_operation(operation: str, lists: list, min_lists: int | None) -> None:
    if operation == SetOperation.DIFFERENCE and len(lists) < 2:
        raise ValidationFailed(
            [{"field": "lists", "code": "min_length", "message": "A difference needs at least two lists."}]
        )
    if operation == SetOperation.AT_LEAST:
        if min_lists is None:
            raise ValidationFailed(
                [{"field": "min_lists", "code": "required", "message": "at_least needs min_lists."}]
            )
        if not 1 <= min_lists <= len(lists):
            raise ValidationFailed(
                [{"field": "min_lists", "code": "invalid",
                  "message": f"min_lists must be between 1 and the number of lists ({len(lists)})."}]
            )  # fmt: skip
    elif min_lists is not None:
        raise ValidationFailed(
            [{"field": "min_lists", "code": "invalid", "message": "min_lists only applies to at_least."}]
        )


def _fill(
    tenant: Tenant, actor: Actor, target: ContactList, selection: QuerySet[Contact], source: str
) -> int:
    added = contacts_link(
        tenant=tenant, target=_target(target), selection=selection, actor=actor, source=source
    )
    if added:
        segments_rebuild_later(tenant=tenant)  # segments may have rules on list membership
    return added


@transaction.atomic
def list_combine(
    *, tenant: Tenant, actor: Actor, name: str, operation: str, lists: list[uuid.UUID],
    min_lists: int | None = None, description: str = "", source: str = ChangeSource.API,
) -> tuple[ContactList, int]:  # fmt: skip
    """A new static list holding the union, intersection, difference or "in at least N" of lists.
    Returns the list and how many contacts it got."""
    sources = _source_lists(tenant, lists)
    _check_operation(operation, sources, min_lists)
    selection = combined_selection(tenant=tenant, lists=sources, operation=operation, min_lists=min_lists)
    new_list = list_create(tenant=tenant, actor=actor, name=name, description=description)
    return new_list, _fill(tenant, actor, new_list, selection, source)


@transaction.atomic
def list_copy(
    *, tenant: Tenant, actor: Actor, list_id: uuid.UUID, name: str, description: str | None = None,
    kind: str | None = None, source: str = ChangeSource.API,
) -> tuple[ContactList, int]:  # fmt: skip
    """Copy a list under a new name. A static copy gets the members the original has now (a dynamic
    list copied as static is a snapshot); a dynamic copy gets the same rules and follows them."""
    (original,) = _source_lists(tenant, [list_id], field="id")
    kind = kind or original.kind
    if kind == ListKind.DYNAMIC and original.kind != ListKind.DYNAMIC:
        raise ValidationFailed(
            [{"field": "kind", "code": "invalid", "message": "A static list has no rules to copy."}]
        )
    description = original.description if description is None else description
    if kind == ListKind.DYNAMIC:
        copy = list_create(
            tenant=tenant,
            actor=actor,
            name=name,
            description=description,
            kind=kind,
            rules=original.rules,
            stored_rules=True,
        )
        return copy, ListMembership.objects.for_tenant(tenant).filter(contact_list=copy).count()
    copy = list_create(tenant=tenant, actor=actor, name=name, description=description)
    selection = combined_selection(tenant=tenant, lists=[original], operation=SetOperation.UNION)
    return copy, _fill(tenant, actor, copy, selection, source)


@transaction.atomic
def list_merge(
    *, tenant: Tenant, actor: Actor, list_id: uuid.UUID, lists: list[uuid.UUID], delete_merged: bool = False,
    source: str = ChangeSource.API,
) -> int:  # fmt: skip
    """Add the members of `lists` to the static list `list_id`; with delete_merged, delete those lists
    afterwards (their members leave them, with events). Returns how many contacts joined."""
    target = _list(tenant, list_id)
    if target.kind != ListKind.STATIC:
        raise Conflict(
            "Members of a dynamic list follow its rules; merge into a static list.", code="dynamic"
        )
    if list_id in lists:
        raise ValidationFailed(
            [{"field": "lists", "code": "invalid", "message": "A list cannot be merged into itself."}]
        )
    sources = _source_lists(tenant, lists)
    # Every list this changes, in id order, before any contact (as a rebuild locks its segment, then
    # its contacts, and a tag rename the segments in id order): the merged lists were locked only at
    # their deletion, after their members, which deadlocked with a rebuild or a rename of them.
    changed = [list_id, *(s.pk for s in sources)] if delete_merged else [list_id]
    locked = ContactList.objects.for_tenant(tenant).filter(pk__in=changed).order_by("pk").select_for_update()
    if len(list(locked.values_list("pk", flat=True))) < len(changed):
        raise NotFound("List not found.")  # deleted meanwhile
    selection = combined_selection(tenant=tenant, lists=sources, operation=SetOperation.UNION)
    added = _fill(tenant, actor, target, selection, source)
    if delete_merged:
        # Dynamic lists first: a static list merged with the segment naming it goes too, whatever the
        # order the caller gave (as the admin deletes them).
        for merged in sorted(sources, key=lambda c: c.kind != ListKind.DYNAMIC):
            list_delete(tenant=tenant, actor=actor, list_id=merged.pk, source=source)
    return added


# --- Sharing one list with one user (django-guardian object permission) -------------------------

MANAGE_LIST = "lists.manage_list"


def _member(tenant: Tenant, *, user_id: uuid.UUID | None, email: str | None) -> Membership:
    memberships = Membership.objects.select_related("user").filter(tenant=tenant)
    if user_id is not None:
        found = list(memberships.filter(user_id=user_id)[:2])
        field = "user_id"
    else:
        found = list(memberships.filter(user__email__iexact=email)[:2])
        field = "email"
    if len(found) != 1:
        reason = "No member of this tenant has it." if not found else "Several members have it; use user_id."
        raise ValidationFailed(
            [{"field": field, "code": "not_found" if not found else "ambiguous", "message": reason}]
        )
    return found[0]


@transaction.atomic
def list_share(
    *,
    tenant: Tenant,
    actor: Actor,
    list_id: uuid.UUID,
    user_id: uuid.UUID | None = None,
    email: str | None = None,
) -> Membership:
    """Let one member of the tenant manage this list (members, name, rules) whatever their role.
    Sharing twice is a no-op. Returns the member's membership."""
    contact_list = _list(tenant, list_id)
    membership = _member(tenant, user_id=user_id, email=email)
    assign_perm(MANAGE_LIST, membership.user, contact_list)
    logger.info("list %s shared with user %s by %s", contact_list.pk, membership.user_id, actor.label)
    return membership


@transaction.atomic
def list_unshare(*, tenant: Tenant, actor: Actor, list_id: uuid.UUID, user_id: uuid.UUID) -> None:
    contact_list = _list(tenant, list_id)
    # Shares are the manage_list grants (list_shares); an operator's other object permissions on the
    # list (admin, "Object permissions") are not shares and stay.
    removed, _ = ContactListUserPermission.objects.filter(
        content_object=contact_list, user_id=user_id, permission__codename="manage_list"
    ).delete()
    if not removed:
        raise NotFound("This list is not shared with that user.")
    logger.info("list %s unshared from user %s by %s", contact_list.pk, user_id, actor.label)

"""Every write to lists and list membership."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from contacts.models import ChangeSource, Contact
from contacts.services.links import LinkTarget, contacts_link, contacts_unlink
from contacts_service.context import Actor
from contacts_service.errors import Conflict, NotFound, ValidationFailed
from contacts_service.models import Tenant
from contacts_service.names import name_check_free, name_clean
from lists.dynamic import segment_rebuild, segments_rebuild_later
from lists.models import ContactList, ListKind, ListMembership, ListStatus
from lists.segments import compile_rules


def _clean_name(name: str) -> str:
    return name_clean(name, label="list", max_length=150)


def _name_taken(tenant: Tenant, name: str, exclude: uuid.UUID | None = None) -> None:
    name_check_free(ContactList.objects.for_tenant(tenant), name, label="List", exclude=exclude)


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
    status: str = ListStatus.ACTIVE, rules: dict | None = None,
) -> ContactList:  # fmt: skip
    name = _clean_name(name)
    _name_taken(tenant, name)
    if kind == ListKind.DYNAMIC:
        if rules is None:
            raise ValidationFailed(
                [{"field": "rules", "code": "required", "message": "A dynamic list needs rules."}]
            )
        compile_rules(tenant=tenant, rules=rules)
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
        segment_rebuild(tenant=tenant, list_id=contact_list.pk, actor=actor, source=ChangeSource.API)
    return contact_list


@transaction.atomic
def list_update(*, tenant: Tenant, actor: Actor, list_id: uuid.UUID, changes: dict) -> ContactList:
    contact_list = ContactList.objects.for_tenant(tenant).select_for_update().filter(pk=list_id).first()
    if contact_list is None:
        raise NotFound("List not found.")
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
    if rules_changed or (
        changes.get("status") == ListStatus.ACTIVE and contact_list.kind == ListKind.DYNAMIC
    ):
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


@transaction.atomic
def list_delete(*, tenant: Tenant, actor: Actor, list_id: uuid.UUID, source: str = ChangeSource.API) -> int:
    """Delete a list; every member leaves it (with its event). Returns how many left."""
    contact_list = ContactList.objects.for_tenant(tenant).select_for_update().filter(pk=list_id).first()
    if contact_list is None:
        raise NotFound("List not found.")
    members = Contact.objects.for_tenant(tenant).filter(list_memberships__contact_list=contact_list)
    removed = contacts_unlink(
        tenant=tenant, target=_target(contact_list), selection=members, actor=actor, source=source
    )
    contact_list.delete()
    return removed


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
    contact_list = ContactList.objects.for_tenant(tenant).filter(pk=list_id).first()
    if contact_list is None:
        raise NotFound("List not found.")
    if contact_list.kind != ListKind.STATIC:
        raise Conflict(
            "Members of a dynamic list follow its rules; they cannot be changed by hand.", code="dynamic"
        )
    operation = contacts_unlink if remove else contacts_link
    changed = operation(
        tenant=tenant, target=_target(contact_list), selection=selection, actor=actor, source=source
    )
    if changed:
        segments_rebuild_later(tenant=tenant)  # segments may have rules on static lists
    return changed

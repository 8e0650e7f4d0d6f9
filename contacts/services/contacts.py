"""Create, update, soft-delete and restore contacts."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import AttributeDefinition, ChangeSource, Contact
from contacts.normalization import (
    FieldError,
    derive_display_name,
    merge_attributes,
    normalize_country,
    normalize_email,
    normalize_phone,
    reject_nul,
)
from contacts.services.attributes import definitions_hold
from contacts.services.duplicates import duplicates_check
from contacts.services.recording import PUBLIC_FIELDS, record_contact_change
from contacts_service.context import Actor
from contacts_service.errors import Conflict, NotFound, ValidationFailed
from contacts_service.models import Tenant

TEXT_FIELDS = ("first_name", "last_name", "company", "city", "source")
# Fields duplicate detection looks at: a change to one of them checks the contact again.
MATCHED_FIELDS = {"email", "phone", "external_id", "first_name", "last_name", "display_name", "company"}
NEEDS_IDENTITY = "A contact needs an email, a phone or an external_id."


def _clean(
    *, tenant: Tenant, current: Contact | None, data: Mapping[str, Any]
) -> tuple[dict[str, Any], list[FieldError]]:
    """Normalise the fields present in `data`; return the values to store and all problems."""
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for field, value in data.items():
        try:
            reject_nul(value, field)
        except FieldError as exc:
            errors.append(exc)
    if errors:
        return values, errors

    for field in TEXT_FIELDS:
        if field in data:
            values[field] = (data[field] or "").strip()
    if "status" in data:
        values["status"] = data["status"]
    if "external_id" in data:
        values["external_id"] = (data["external_id"] or "").strip() or None
    if "display_name" in data:
        values["display_name"] = (data["display_name"] or "").strip()
    if "email" in data:
        try:
            values["email"] = normalize_email(data["email"])
        except FieldError as exc:
            errors.append(exc)
    if "country" in data:
        try:
            values["country"] = normalize_country(data["country"])
        except FieldError as exc:
            errors.append(exc)
    if "phone" in data:
        country = values.get("country", current.country if current else "")
        try:
            values["phone"] = normalize_phone(data["phone"], country=country or "")
        except FieldError as exc:
            errors.append(exc)
    if "attributes" in data:
        definitions = {d.key: d for d in AttributeDefinition.objects.for_tenant(tenant)}
        if isinstance(data["attributes"], Mapping):
            held = definitions_hold(definitions, data["attributes"])
            for key in data["attributes"]:  # held again; one deleted meanwhile is unknown now
                definitions.pop(key, None)
            definitions.update(held)
        values["attributes"], attribute_errors = merge_attributes(
            definitions=definitions,
            current=current.attributes if current else {},
            incoming=data["attributes"],
            creating=current is None,
        )
        errors.extend(attribute_errors)
    elif current is None:
        required = AttributeDefinition.objects.for_tenant(tenant).filter(required=True)
        errors.extend(
            FieldError(f"attributes.{d.key}", "This attribute is required.", "required") for d in required
        )
    return values, errors


def _check_unique(*, tenant: Tenant, contact_id: uuid.UUID | None, values: Mapping[str, Any]) -> None:
    live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)
    if contact_id is not None:
        live = live.exclude(pk=contact_id)
    errors = []
    for field in ("email", "external_id"):
        value = values.get(field)
        if value:
            existing = live.filter(**{field: value}).values_list("pk", flat=True).first()
            if existing:
                errors.append(
                    {
                        "field": field,
                        "code": "unique",
                        "message": f"Another contact ({existing}) already has this {field}.",
                    }
                )
    if errors:
        raise ValidationFailed(errors)


def _apply_display_name(contact: Contact, values: Mapping[str, Any]) -> None:
    if "display_name" in values:
        contact.display_name_custom = bool(values["display_name"])
    if not contact.display_name_custom:
        contact.display_name = derive_display_name(
            first_name=contact.first_name,
            last_name=contact.last_name,
            email=contact.email,
            phone=contact.phone,
            company=contact.company,
        )


def _save_unique(contact: Contact, *, conflict: bool = False, **kwargs: Any) -> None:
    """Save; a uniqueness race lost to a concurrent request is a 400 on the field (a value the caller
    sent), or with `conflict` the 409 unique the caller's own check gives (a restore: no value sent),
    not a 500."""
    try:
        with transaction.atomic():
            contact.save(**kwargs)
    except IntegrityError as exc:
        field = "external_id" if "external_id" in str(exc) else "email"
        message = f"Another contact already has this {field}."
        if conflict:
            raise Conflict(
                f"Cannot restore: {message[0].lower()}{message[1:]}", field=field, code="unique"
            ) from exc
        raise ValidationFailed([{"field": field, "code": "unique", "message": message}]) from exc


def _check_not_erased(*, tenant: Tenant, values: Mapping[str, Any]) -> None:
    """A contact erased under GDPR does not come back unless the caller says so (409 `erased`)."""
    from contacts.gdpr import erased_values

    email, phone = values.get("email"), values.get("phone")
    if not (email or phone):
        return
    erased = erased_values(tenant, emails=[email] if email else [], phones=[phone] if phone else [])
    for field, value in (("email", email), ("phone", phone)):
        if value and value in erased:
            raise Conflict(
                f"This {field} belongs to a contact erased under GDPR; "
                'send "allow_erased": true to create it anyway.',
                field=field,
                code="erased",
            )


@transaction.atomic
def contact_create(
    *,
    tenant: Tenant,
    actor: Actor,
    data: Mapping[str, Any],
    source: str = ChangeSource.API,
    allow_erased: bool = False,
) -> Contact:
    """Create a contact from API-shaped data; records history and contact.created.

    An email or phone of an erased contact (its tombstone) is a 409 unless `allow_erased`."""
    values, errors = _clean(tenant=tenant, current=None, data=data)
    if not errors and not (values.get("email") or values.get("phone") or values.get("external_id")):
        errors.append(FieldError("email", NEEDS_IDENTITY, "required"))
    if errors:
        raise ValidationFailed([e.as_dict() for e in errors])
    _check_unique(tenant=tenant, contact_id=None, values=values)
    if not allow_erased:
        _check_not_erased(tenant=tenant, values=values)
    now = timezone.now()
    contact = Contact(tenant=tenant, created_at=now, updated_at=now, event_sequence=1)
    for field, value in values.items():
        if field != "display_name":
            setattr(contact, field, value)
    if values.get("display_name"):
        contact.display_name = values["display_name"]
    if not contact.source:
        contact.source = source
    _apply_display_name(contact, values)
    _save_unique(contact, force_insert=True)
    changes = {
        field: (None, getattr(contact, field))
        for field in PUBLIC_FIELDS
        if getattr(contact, field) not in (None, "", {})
    }
    record_contact_change(
        tenant=tenant,
        contact=contact,
        event_type="contact.created",
        changes=changes,
        actor=actor,
        source=source,
    )
    _refresh_segments(tenant=tenant, contact=contact, actor=actor, source=source)
    _check_duplicates(tenant=tenant, contact=contact)
    return contact


def _refresh_segments(*, tenant: Tenant, contact: Contact, actor: Actor, source: str) -> None:
    from lists.dynamic import segments_refresh_contact  # lists builds on contacts

    segments_refresh_contact(tenant=tenant, contact_id=contact.pk, actor=actor, source=source)


def _check_duplicates(*, tenant: Tenant, contact: Contact) -> None:
    """Look for duplicates of the contact in a task once this commits."""
    duplicates_check(tenant.pk, [contact.pk])


def _lock(*, tenant: Tenant, contact_id: uuid.UUID, deleted: bool = False) -> Contact:
    contact = (
        Contact.objects.for_tenant(tenant)
        .select_for_update()
        .filter(pk=contact_id, deleted_at__isnull=not deleted)
        .first()
    )
    if contact is None:
        raise NotFound("Contact not found.")
    return contact


@transaction.atomic
def contact_update(
    *,
    tenant: Tenant,
    actor: Actor,
    contact_id: uuid.UUID,
    data: Mapping[str, Any],
    source: str = ChangeSource.API,
) -> Contact:
    """Change some fields (attributes merge key by key); records only what really changed."""
    contact = _lock(tenant=tenant, contact_id=contact_id)
    values, errors = _clean(tenant=tenant, current=contact, data=data)
    if errors:
        raise ValidationFailed([e.as_dict() for e in errors])
    _check_unique(tenant=tenant, contact_id=contact.pk, values=values)
    before = {field: getattr(contact, field) for field in PUBLIC_FIELDS}
    for field, value in values.items():
        if field != "display_name":
            setattr(contact, field, value)
    if values.get("display_name"):
        contact.display_name = values["display_name"]
    if not (contact.email or contact.phone or contact.external_id):
        raise ValidationFailed([{"field": "email", "code": "required", "message": NEEDS_IDENTITY}])
    _apply_display_name(contact, values)
    changes = {
        field: (before[field], getattr(contact, field))
        for field in PUBLIC_FIELDS
        if before[field] != getattr(contact, field)
    }
    if not changes:
        if "display_name" in values:  # custom flag may have flipped without a visible change
            contact.save(update_fields=["display_name_custom"])
        return contact
    contact.updated_at = timezone.now()
    contact.event_sequence += 1
    _save_unique(contact)
    record_contact_change(
        tenant=tenant,
        contact=contact,
        event_type="contact.updated",
        changes=changes,
        actor=actor,
        source=source,
    )
    _refresh_segments(tenant=tenant, contact=contact, actor=actor, source=source)
    if MATCHED_FIELDS & set(changes):
        _check_duplicates(tenant=tenant, contact=contact)
    return contact


@transaction.atomic
def contact_delete(
    *, tenant: Tenant, actor: Actor, contact_id: uuid.UUID, source: str = ChangeSource.API
) -> Contact:
    """Soft-delete: hidden from every read until restored; emits contact.deleted (reason "deleted")."""
    contact = _lock(tenant=tenant, contact_id=contact_id)
    now = timezone.now()
    contact.deleted_at = now
    contact.updated_at = now
    contact.event_sequence += 1
    contact.save(update_fields=["deleted_at", "updated_at", "event_sequence"])
    record_contact_change(
        tenant=tenant,
        contact=contact,
        event_type="contact.deleted",
        changes={"deleted_at": (None, now.isoformat())},
        actor=actor,
        source=source,
        extra_data={"reason": "deleted"},
    )
    return contact


@transaction.atomic
def contact_restore(
    *, tenant: Tenant, actor: Actor, contact_id: uuid.UUID, source: str = ChangeSource.API
) -> Contact:
    """Bring a soft-deleted contact back, unless its email or external_id was taken meanwhile."""
    contact = _lock(tenant=tenant, contact_id=contact_id, deleted=True)
    if contact.merge_id is not None:
        raise Conflict(
            f"This contact was merged into another (merge {contact.merge_id}); undo the merge with "
            f"POST /api/v1/merges/{contact.merge_id}/undo/ to bring it back.",
            code="merged",
            merge_id=str(contact.merge_id),
        )
    live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)
    for field in ("email", "external_id"):
        value = getattr(contact, field)
        if value:
            holder = live.filter(**{field: value}).values_list("pk", flat=True).first()
            if holder:
                raise Conflict(
                    f"Cannot restore: contact {holder} now has this {field}.", field=field, code="unique"
                )
    deleted_at = contact.deleted_at
    contact.deleted_at = None
    contact.updated_at = timezone.now()
    contact.event_sequence += 1
    _save_unique(contact, conflict=True, update_fields=["deleted_at", "updated_at", "event_sequence"])
    record_contact_change(
        tenant=tenant,
        contact=contact,
        event_type="contact.restored",
        changes={"deleted_at": (deleted_at.isoformat(), None)},
        actor=actor,
        source=source,
    )
    _refresh_segments(tenant=tenant, contact=contact, actor=actor, source=source)
    _check_duplicates(tenant=tenant, contact=contact)
    return contact

"""Per-tenant custom attribute definitions."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.models import AttributeDefinition, AttributeLookup, AttributeType, Contact
from contacts.normalization import (
    ATTRIBUTE_KEY_RE,
    FieldError,
    clean_choices,
    reject_nul,
    reserved_attribute_keys,
)
from contacts_service.errors import Conflict, NotFound, ValidationFailed
from contacts_service.models import Tenant


def _check_choices(type_: str, choices: Sequence[str] | None) -> list[str]:
    if type_ == AttributeType.CHOICE:
        if not choices:
            raise ValidationFailed(
                [{"field": "choices", "code": "required", "message": "A choice attribute needs choices."}]
            )
        try:
            return clean_choices(choices)
        except FieldError as exc:
            raise ValidationFailed([exc.as_dict()]) from exc
    if choices:
        raise ValidationFailed(
            [{"field": "choices", "code": "invalid", "message": "Only choice attributes have choices."}]
        )
    return []


@transaction.atomic
def attribute_definition_create(
    *,
    tenant: Tenant,
    key: str,
    label: str,
    type: str,
    choices: Sequence[str] | None = None,
    required: bool = False,
    description: str = "",
) -> AttributeDefinition:
    if not ATTRIBUTE_KEY_RE.fullmatch(key):  # match: "plan\n" passed ($ before a final newline)
        raise ValidationFailed(
            [{"field": "key", "code": "invalid",
              "message": "Lower-case letters, digits and _, starting with a letter, at most 64."}]
        )  # fmt: skip
    if "__" in key:  # the ORM's lookup separator: segment rules would read score__gt as score > ...
        raise ValidationFailed(
            [{"field": "key", "code": "invalid", "message": "No __ (two underscores in a row)."}]
        )
    if key in reserved_attribute_keys():
        raise ValidationFailed(
            [{"field": "key", "code": "reserved", "message": f"{key!r} is reserved (a query operator name)."}]
        )
    for field, value in (("label", label), ("description", description)):
        try:
            reject_nul(value, field)
        except FieldError as exc:
            raise ValidationFailed([exc.as_dict()]) from exc
    cleaned = _check_choices(type, choices)
    definition = AttributeDefinition(
        tenant=tenant,
        key=key,
        label=label,
        type=type,
        choices=cleaned,
        required=required,
        description=description,
    )
    try:
        with transaction.atomic():
            definition.save(force_insert=True)
    except IntegrityError as exc:
        raise ValidationFailed(
            [{"field": "key", "code": "unique", "message": "An attribute with this key exists."}]
        ) from exc
    return definition


@transaction.atomic
def attribute_definition_update(
    *, tenant: Tenant, definition_id: uuid.UUID, changes: dict
) -> AttributeDefinition:
    """Label, description, required and choices may change; key and type may not (stored values
    depend on them). Removing a choice that contacts still use is refused."""
    definition = (
        AttributeDefinition.objects.for_tenant(tenant).select_for_update().filter(pk=definition_id).first()
    )
    if definition is None:
        raise NotFound("Attribute definition not found.")
    if not changes:
        raise ValidationFailed(
            [{"field": None, "code": "empty", "message": "Send at least one field to change."}]
        )
    for field in ("key", "type"):
        if field in changes and changes[field] != getattr(definition, field):
            raise ValidationFailed(
                [{"field": field, "code": "immutable", "message": f"The {field} cannot be changed."}]
            )
    for field in ("label", "description"):
        if field in changes:
            try:
                reject_nul(changes[field], field)
            except FieldError as exc:
                raise ValidationFailed([exc.as_dict()]) from exc
            setattr(definition, field, changes[field])
    if "choices" in changes:
        new_choices = _check_choices(definition.type, changes["choices"])
        removed = set(definition.choices) - set(new_choices)
        # AttributeLookup, not attributes__<key>: a key such as "isnull" or "contains" would be read as a
        # lookup name; and the value compared as JSON text on every database (an annotation compared
        # with a string was JSON_EXTRACT(%s) on SQLite: "Gold" malformed JSON, "1" the number 1).
        contacts = Contact.objects.for_tenant(tenant)
        if removed:
            _check_no_import_writes(tenant, definition.key)
        in_use = [
            choice
            for choice in sorted(removed)
            if contacts.filter(AttributeLookup(definition.key, "exact", choice)).exists()
        ]
        if in_use:
            raise ValidationFailed(
                [
                    {
                        "field": "choices",
                        "code": "in_use",
                        "message": f"Still used by contacts: {', '.join(in_use)}.",
                    }
                ]
            )
        definition.choices = new_choices
    if "required" in changes:
        definition.required = changes["required"]
    definition.updated_at = timezone.now()
    definition.save()
    return definition


def definitions_hold(
    definitions: Mapping[str, AttributeDefinition], keys: Iterable[str]
) -> dict[str, AttributeDefinition]:
    """The definitions of these keys, read again FOR SHARE (until the caller's transaction commits):
    removing a choice (attribute_definition_update) or deleting the definition (FOR UPDATE) then waits
    for the caller, a contact write or an import's start, and sees its value or its job, instead of
    finding neither while the caller has checked against the old definition (a value of a deleted
    definition could not even be cleared). One deleted while this waited is missing from the answer.
    FOR SHARE does not hold back other writers."""
    ids = [definitions[key].pk for key in keys if key in definitions]
    if connection.vendor != "postgresql":
        return {key: definitions[key] for key in keys if key in definitions}
    if not ids:
        return {}
    held = AttributeDefinition.objects.raw(
        "SELECT * FROM contacts_attributedefinition WHERE id = ANY(%s) ORDER BY id FOR SHARE", [ids]
    )
    return {d.key: d for d in held}


def _check_no_import_writes(tenant: Tenant, key: str) -> None:
    """An import checks its rows against the choices it read when it started: a choice removed while
    it is queued or running would be written by its later batches. Refused until it ends."""
    from imports.models import ACTIVE_STATUSES, ImportJob

    target = f"attributes.{key}"
    for job_id, mapping in (
        ImportJob.objects.for_tenant(tenant).filter(status__in=ACTIVE_STATUSES).values_list("pk", "mapping")
    ):
        if target in (mapping or {}).values():
            message = f"Import {job_id}, under way, writes {target}; remove choices once it has ended."
            raise ValidationFailed([{"field": "choices", "code": "in_use", "message": message}])


@transaction.atomic
def attribute_definition_delete(*, tenant: Tenant, definition_id: uuid.UUID) -> None:
    """Refused while contacts hold a value, so no contact silently loses data, and while a segment's
    rules name the attribute (its upkeep would stop following contacts without a word)."""
    from lists.dynamic import refuse_if_named, segments_naming_field

    definition = (
        AttributeDefinition.objects.for_tenant(tenant).select_for_update().filter(pk=definition_id).first()
    )
    if definition is None:
        raise NotFound("Attribute definition not found.")
    used = Contact.objects.for_tenant(tenant).filter(attributes__has_key=definition.key).count()
    if used:
        raise Conflict(
            f"{used} contacts still have a value for {definition.key}; clear it first.",
            code="in_use",
            in_use=used,
        )
    refuse_if_named(
        segments_naming_field(tenant=tenant, fields=[f"attributes.{definition.key}"]), definition.key
    )
    definition.delete()

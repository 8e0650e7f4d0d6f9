"""Channel identifiers of a contact (extra e-mails, phones, WhatsApp/SMS numbers, push tokens)."""

from __future__ import annotations

import uuid

from django.db import IntegrityError, transaction
from django.utils import timezone

from contacts.models import ChangeSource, ContactIdentifier, IdentifierChannel
from contacts.normalization import FieldError, normalize_email, normalize_phone, reject_nul
from contacts.services.contacts import _lock, _refresh_segments
from contacts.services.duplicates import duplicates_check
from contacts.services.recording import record_contact_change
from contacts_service.context import Actor
from contacts_service.errors import NotFound, ValidationFailed
from contacts_service.models import Tenant

PHONE_CHANNELS = {IdentifierChannel.PHONE, IdentifierChannel.SMS, IdentifierChannel.WHATSAPP}


def identifier_normalize(*, channel: str, value: str, country: str = "", lookup: bool = False) -> str:
    """The stored form of an identifier: e-mails lower-case, numbers E.164, tokens as given.
    `lookup`: a value looked for (see normalize_email)."""
    reject_nul(value, "value")
    if channel == IdentifierChannel.EMAIL:
        try:
            normalized = normalize_email(value, lookup=lookup)
        except FieldError as exc:
            raise FieldError("value", exc.message, exc.code) from exc
    elif channel in PHONE_CHANNELS:
        normalized = normalize_phone(value, country=country, field="value")
    else:
        normalized = value.strip()
    if not normalized:
        raise FieldError("value", "This field may not be blank.", "blank")
    return normalized


@transaction.atomic
def identifier_add(
    *,
    tenant: Tenant,
    actor: Actor,
    contact_id: uuid.UUID,
    channel: str,
    value: str,
    verified: bool = False,
    source: str = ChangeSource.API,
) -> ContactIdentifier:
    """Attach an identifier; each (channel, value) belongs to at most one contact of the tenant."""
    contact = _lock(tenant=tenant, contact_id=contact_id)
    try:
        normalized = identifier_normalize(channel=channel, value=value, country=contact.country)
    except FieldError as exc:
        raise ValidationFailed([exc.as_dict()]) from exc
    holder = (
        ContactIdentifier.objects.for_tenant(tenant)
        .filter(channel=channel, value=normalized)
        .values_list("contact_id", flat=True)
        .first()
    )
    if holder:
        raise ValidationFailed(
            [{"field": "value", "code": "unique", "message": f"Already an identifier of contact {holder}."}]
        )
    identifier = ContactIdentifier(
        tenant=tenant,
        contact=contact,
        channel=channel,
        value=normalized,
        verified=verified,
        verified_at=timezone.now() if verified else None,
    )
    try:
        with transaction.atomic():
            identifier.save(force_insert=True)
    except IntegrityError as exc:
        raise ValidationFailed(
            [{"field": "value", "code": "unique", "message": "Already an identifier of another contact."}]
        ) from exc
    contact.event_sequence += 1
    contact.updated_at = timezone.now()
    contact.save(update_fields=["event_sequence", "updated_at"])
    record_contact_change(
        tenant=tenant,
        contact=contact,
        event_type="contact.updated",
        changes={f"identifiers.{channel}": (None, normalized)},
        actor=actor,
        source=source,
    )
    _refresh_segments(tenant=tenant, contact=contact, actor=actor, source=source)  # updated_at moved
    if channel != IdentifierChannel.PUSH:  # emails and numbers are duplicate keys
        duplicates_check(tenant.pk, [contact.pk])
    return identifier


def _lock_identifier(*, tenant: Tenant, contact_id: uuid.UUID, identifier_id: uuid.UUID) -> ContactIdentifier:
    identifier = (
        ContactIdentifier.objects.for_tenant(tenant)
        .select_for_update()
        .filter(pk=identifier_id, contact_id=contact_id)
        .first()
    )
    if identifier is None:
        raise NotFound("Identifier not found.")
    return identifier


@transaction.atomic
def identifier_update(
    *,
    tenant: Tenant,
    actor: Actor,
    contact_id: uuid.UUID,
    identifier_id: uuid.UUID,
    verified: bool,
    source: str = ChangeSource.API,
) -> ContactIdentifier:
    """Mark an identifier verified or not (the value itself is replaced by remove + add)."""
    contact = _lock(tenant=tenant, contact_id=contact_id)
    identifier = _lock_identifier(tenant=tenant, contact_id=contact.pk, identifier_id=identifier_id)
    if identifier.verified == verified:
        return identifier
    identifier.verified = verified
    identifier.verified_at = timezone.now() if verified else None
    identifier.save(update_fields=["verified", "verified_at"])
    contact.event_sequence += 1
    contact.updated_at = timezone.now()
    contact.save(update_fields=["event_sequence", "updated_at"])
    record_contact_change(
        tenant=tenant,
        contact=contact,
        event_type="contact.updated",
        changes={
            f"identifiers.{identifier.channel}.verified": (
                {"value": identifier.value, "verified": not verified},
                {"value": identifier.value, "verified": verified},
            )
        },
        actor=actor,
        source=source,
    )
    _refresh_segments(tenant=tenant, contact=contact, actor=actor, source=source)
    return identifier


@transaction.atomic
def identifier_remove(
    *,
    tenant: Tenant,
    actor: Actor,
    contact_id: uuid.UUID,
    identifier_id: uuid.UUID,
    source: str = ChangeSource.API,
) -> None:
    contact = _lock(tenant=tenant, contact_id=contact_id)
    identifier = _lock_identifier(tenant=tenant, contact_id=contact.pk, identifier_id=identifier_id)
    identifier.delete()
    contact.event_sequence += 1
    contact.updated_at = timezone.now()
    contact.save(update_fields=["event_sequence", "updated_at"])
    record_contact_change(
        tenant=tenant,
        contact=contact,
        event_type="contact.updated",
        changes={f"identifiers.{identifier.channel}": (identifier.value, None)},
        actor=actor,
        source=source,
    )
    _refresh_segments(tenant=tenant, contact=contact, actor=actor, source=source)
    if identifier.channel != IdentifierChannel.PUSH:
        duplicates_check(tenant.pk, [contact.pk])

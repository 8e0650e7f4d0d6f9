"""Reads of contacts, always for one tenant; soft-deleted contacts are hidden unless asked for."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from contacts.models import AttributeDefinition, Contact, ContactChange, ContactIdentifier
from contacts.services.identifiers import PHONE_CHANNELS, identifier_normalize
from contacts_service.models import Tenant


def contact_list(*, tenant: Tenant) -> QuerySet[Contact]:
    identifiers = ContactIdentifier.objects.for_tenant(tenant).order_by("channel", "created_at")
    return (
        Contact.objects.for_tenant(tenant)
        .filter(deleted_at__isnull=True)
        .prefetch_related(Prefetch("identifiers", queryset=identifiers))
    )


def contact_deleted_list(*, tenant: Tenant) -> QuerySet[Contact]:
    return Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=False)


def contact_exists(*, tenant: Tenant, contact_id: uuid.UUID) -> bool:
    return Contact.objects.for_tenant(tenant).filter(pk=contact_id, deleted_at__isnull=True).exists()


def contact_history(*, tenant: Tenant, contact_id: uuid.UUID) -> QuerySet[ContactChange]:
    return (
        ContactChange.objects.for_tenant(tenant).filter(contact_id=contact_id).order_by("-changed_at", "-id")
    )


def contact_identifiers(*, tenant: Tenant, contact_id: uuid.UUID) -> QuerySet[ContactIdentifier]:
    return (
        ContactIdentifier.objects.for_tenant(tenant)
        .filter(contact_id=contact_id)
        .order_by("channel", "created_at")
    )


def contact_resolve(*, tenant: Tenant, channel: str, identifier: str) -> Contact | None:
    """The live contact reachable at this address: its identifiers first, then its own
    email (email channel) or phone (phone, sms, whatsapp)."""
    value = identifier_normalize(channel=channel, value=identifier)
    live = contact_list(tenant=tenant)
    found = live.filter(identifiers__channel=channel, identifiers__value=value).first()
    if found is None and channel == "email":
        found = live.filter(email=value).first()
    if found is None and channel in PHONE_CHANNELS:
        found = live.filter(phone=value).order_by("created_at").first()
    return found


def attribute_definition_list(*, tenant: Tenant) -> QuerySet[AttributeDefinition]:
    return AttributeDefinition.objects.for_tenant(tenant).order_by("key")

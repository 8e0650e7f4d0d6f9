"""Reads of consent, always for one tenant."""

from __future__ import annotations

import uuid

from django.db.models import Exists, OuterRef, QuerySet

from consent.models import ConsentPurpose, ConsentRecord, ConsentState
from contacts_service.models import Tenant


def purpose_list(*, tenant: Tenant) -> QuerySet[ConsentPurpose]:
    return ConsentPurpose.objects.for_tenant(tenant).order_by("key")


def consent_current(*, tenant: Tenant, contact_id: uuid.UUID) -> QuerySet[ConsentState]:
    return (
        ConsentState.objects.for_tenant(tenant).filter(contact_id=contact_id).order_by("channel", "purpose")
    )


def consent_ledger(*, tenant: Tenant, contact_id: uuid.UUID) -> QuerySet[ConsentRecord]:
    return (
        ConsentRecord.objects.for_tenant(tenant).filter(contact_id=contact_id).order_by("-recorded_at", "-id")
    )


def has_consent(*, tenant: Tenant, channel: str, purpose: str, statuses: list[str] | None = None) -> Exists:
    """Contacts (OuterRef("pk")) whose current consent on channel/purpose is one of `statuses`
    (any recorded status when None). Served by the (tenant, channel, purpose, status, contact) index."""
    states = ConsentState.objects.for_tenant(tenant).filter(
        contact_id=OuterRef("pk"), channel=channel, purpose=purpose
    )
    if statuses is not None:
        states = states.filter(status__in=statuses)
    return Exists(states)

"""Reads of consent, always for one tenant."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

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

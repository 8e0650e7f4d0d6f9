"""Reads of contacts, always for one tenant; soft-deleted contacts are hidden unless asked for."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, QuerySet

from contacts.models import (
    AttributeDefinition,
    Contact,
    ContactChangeEntry,
    ContactIdentifier,
    DuplicateCandidate,
    Merge,
)
from contacts.services.identifiers import PHONE_CHANNELS, identifier_normalize
from contacts_service.models import Tenant


def contact_live(*, tenant: Tenant) -> QuerySet[Contact]:
    """The tenant's live contacts, nothing prefetched (pages rendered from rows: contact_rows)."""
    return Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)


def contact_list(*, tenant: Tenant) -> QuerySet[Contact]:
    """The tenant's live contacts with what ContactSerializer reads prefetched."""
    from tags.models import TagAssignment

    identifiers = ContactIdentifier.objects.for_tenant(tenant).order_by("channel", "created_at")
    tags = TagAssignment.objects.for_tenant(tenant).select_related("tag")
    return contact_live(tenant=tenant).prefetch_related(
        Prefetch("identifiers", queryset=identifiers), Prefetch("tag_assignments", queryset=tags)
    )


def contact_rows(queryset: QuerySet[Contact], *extra: str) -> QuerySet:
    """The contacts of a queryset (filters, ordering and annotations kept) as the plain rows
    contacts.serializers.contacts_render turns into API output."""
    from contacts.serializers import CONTACT_ROW_FIELDS

    return queryset.prefetch_related(None).values(*CONTACT_ROW_FIELDS, *extra)


def contact_deleted_list(*, tenant: Tenant) -> QuerySet[Contact]:
    return Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=False)


def contact_exists(*, tenant: Tenant, contact_id: uuid.UUID) -> bool:
    return Contact.objects.for_tenant(tenant).filter(pk=contact_id, deleted_at__isnull=True).exists()


def contact_history(*, tenant: Tenant, contact_id: uuid.UUID) -> QuerySet[ContactChangeEntry]:
    """One entry per changed field, newest first (the last field of a change first, as the API always
    listed them); the view walks change_contact_time_idx and sorts each change's fields."""
    return (
        ContactChangeEntry.objects.for_tenant(tenant)
        .filter(contact_id=contact_id)
        .order_by("-changed_at", "-change_id", "-position")
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
    value = identifier_normalize(channel=channel, value=identifier, lookup=True)
    live = contact_live(tenant=tenant)
    found = live.filter(identifiers__channel=channel, identifiers__value=value).first()
    if found is None and channel in PHONE_CHANNELS and channel != "phone":
        # A number kept as a `phone` identifier (a merged contact's own phone) is reachable on sms and
        # whatsapp too, as a contact's own phone is; an identifier of the channel asked comes first.
        found = live.filter(identifiers__channel="phone", identifiers__value=value).first()
    if found is None and channel == "email":
        found = live.filter(email=value).first()
    if found is None and channel in PHONE_CHANNELS:
        found = live.filter(phone=value).order_by("created_at").first()
    return found


def attribute_definition_list(*, tenant: Tenant) -> QuerySet[AttributeDefinition]:
    return AttributeDefinition.objects.for_tenant(tenant).order_by("key")


def contact_selection(
    *, tenant: Tenant, contact_ids: list[uuid.UUID] | None = None, filter_params: dict | None = None
) -> QuerySet[Contact]:
    """The live contacts a bulk operation targets. Every explicit id must be a live contact of
    this tenant: another tenant's id is refused (400 naming it), never silently skipped."""
    from contacts.filters import filter_selection
    from contacts_service.errors import ValidationFailed

    live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)
    if contact_ids is not None:
        wanted = set(contact_ids)
        found = set(live.filter(pk__in=wanted).values_list("pk", flat=True))
        missing = sorted(str(i) for i in wanted - found)
        if missing:
            raise ValidationFailed(
                [{"field": "contact_ids", "code": "not_found",
                  "message": f"{len(missing)} ids are not live contacts of this tenant: "
                             f"{', '.join(missing[:20])}"}]
            )  # fmt: skip
        return live.filter(pk__in=wanted)
    params = {k: v for k, v in (filter_params or {}).items() if k not in {"page", "page_size", "ordering"}}
    return filter_selection(live, params, prefix="filter")


def duplicate_list(*, tenant: Tenant) -> QuerySet[DuplicateCandidate]:
    """Candidate pairs whose two contacts are both live, most likely first."""
    return (
        DuplicateCandidate.objects.for_tenant(tenant)
        .filter(contact_a__deleted_at__isnull=True, contact_b__deleted_at__isnull=True)
        .select_related("contact_a", "contact_b")
        .order_by("-score", "-detected_at", "id")
    )


def merge_list(*, tenant: Tenant) -> QuerySet[Merge]:
    return Merge.objects.for_tenant(tenant).order_by("-created_at", "-id")

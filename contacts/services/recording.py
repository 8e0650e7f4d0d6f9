"""The history row and events for a contact change, written together in the change's transaction."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from contacts.models import Contact, ContactChange
from contacts_service.context import Actor, get_correlation_id
from contacts_service.models import Tenant
from events.services import event_record

PUBLIC_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "display_name",
    "company",
    "phone",
    "country",
    "city",
    "status",
    "source",
    "external_id",
    "attributes",
)


def contact_snapshot(contact: Contact) -> dict[str, Any]:
    """The contact as consumers of events see it (stable keys, JSON types)."""
    data: dict[str, Any] = {"id": str(contact.pk)}
    for field in PUBLIC_FIELDS:
        data[field] = getattr(contact, field)
    data["created_at"] = contact.created_at.isoformat()
    data["updated_at"] = contact.updated_at.isoformat()
    data["deleted_at"] = contact.deleted_at.isoformat() if contact.deleted_at else None
    return data


TITLES = {
    "contact.created": "Contact created",
    "contact.updated": "Contact updated",
    "contact.deleted": "Contact deleted",
    "contact.restored": "Contact restored",
}


def record_contact_change(
    *,
    tenant: Tenant,
    contact: Contact,
    event_type: str,
    changes: dict[str, tuple[Any, Any]],
    actor: Actor,
    source: str,
    extra_data: dict[str, Any] | None = None,
) -> None:
    """Write the history row (every changed field, one row) and the event (timeline + outbox).

    The caller holds the contact's row lock and has already bumped contact.event_sequence.
    """
    outbox = event_record(
        tenant=tenant,
        event_type=event_type,
        aggregate_type="contact",
        aggregate_id=contact.pk,
        sequence=contact.event_sequence,
        data={
            "contact_id": str(contact.pk),
            "changes": {field: {"old": old, "new": new} for field, (old, new) in changes.items()},
            "contact": contact_snapshot(contact),
            **(extra_data or {}),
        },
        timeline_data={
            "changes": {field: {"old": old, "new": new} for field, (old, new) in changes.items()},
            **(extra_data or {}),
        },
        actor=actor,
        source=source,
        title=TITLES.get(event_type, event_type),
    )
    if not changes:
        return
    ContactChange.objects.for_tenant(tenant).create(
        tenant=tenant,
        contact=contact,
        event_id=outbox.event_id,
        changes=ContactChange.entries(changes),
        actor=actor.as_dict(),
        source=source,
        correlation_id=get_correlation_id(),
        changed_at=timezone.now(),
    )

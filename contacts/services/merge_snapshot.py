"""Snapshots of the contacts of a merge, and putting rows back from them.

A snapshot is every row undo has to restore, in Django's "python" serialization format (model,
pk, fields; JSON-ready with SnapshotJSONEncoder): the contact row and its identifiers, tag
assignments, list memberships and consent states. One query per table for all the contacts of a
merge. Timeline, history and activity rows are not copied: the merge moves them to the primary and
records their ids (MergeContact.moved) so undo can move them back.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.core import serializers
from django.db import connection, models

from contacts.models import Contact
from contacts_service.models import Tenant

# Snapshot section -> model of a table linking contacts (through a `contact` foreign key).
LINKED = {
    "identifiers": "contacts.ContactIdentifier",
    "tags": "tags.TagAssignment",
    "lists": "lists.ListMembership",
    "consent": "consent.ConsentState",
}
# Contact columns undo does not write back: the row's identity, its event counter (which only grows)
# and updated_at (undo sets it to now: a client syncing with ?updated_after= must see the change).
NOT_RESTORED = {"id", "tenant", "event_sequence", "updated_at"}


def linked_model(section: str) -> type[models.Model]:
    return apps.get_model(LINKED[section])


def snapshot_take(*, tenant: Tenant, contact_ids: list[uuid.UUID]) -> dict[str, dict[str, Any]]:
    """{contact id (str): {"contact": row, "identifiers": [rows], "tags": [...], ...}}."""
    result: dict[str, dict[str, Any]] = {
        str(i): {"contact": None, **{s: [] for s in LINKED}} for i in contact_ids
    }
    contacts = Contact.objects.for_tenant(tenant).filter(pk__in=contact_ids).order_by("pk")
    for row in serializers.serialize("python", contacts):
        result[str(row["pk"])]["contact"] = row
    for section in LINKED:
        rows = linked_model(section).objects.for_tenant(tenant).filter(contact_id__in=contact_ids)
        for row in serializers.serialize("python", rows.order_by("pk")):
            result[str(row["fields"]["contact"])][section].append(row)
    return result


def snapshot_objects(rows: Iterable[dict[str, Any]]) -> list[models.Model]:
    """Unsaved model instances of snapshot rows (values converted back from JSON)."""
    return [item.object for item in serializers.deserialize("python", list(rows), ignorenonexistent=True)]


def contact_values(row: dict[str, Any]) -> dict[str, Any]:
    """The column values of a contact snapshot row that undo writes back."""
    [contact] = snapshot_objects([row])
    return {
        f.attname: getattr(contact, f.attname)
        for f in Contact._meta.concrete_fields
        if f.name not in NOT_RESTORED
    }


def rows_reassign(
    *, tenant: Tenant, model: type[models.Model], ids: list[str], contact_id: uuid.UUID
) -> None:
    """Point the rows with these ids at `contact_id` again: one statement however many ids."""
    if not ids:
        return
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET contact_id = %s WHERE tenant_id = %s AND id = ANY(%s::uuid[])",  # noqa: S608
                [contact_id, tenant.pk, [str(i) for i in ids]],
            )
        return
    for start in range(0, len(ids), 500):  # SQLite: bounded IN lists
        model._base_manager.filter(tenant=tenant, pk__in=ids[start : start + 500]).update(
            contact_id=contact_id
        )

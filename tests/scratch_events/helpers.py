"""Helpers for the scratch events tests."""

from django.urls import reverse

from events.models import OutboxEvent

CONTACTS = reverse("contact-list")
TAGS = reverse("tag-list")
LISTS = reverse("list-list")


def create(api, **data) -> dict:
    response = api.post(CONTACTS, data, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def events(contact_id=None, tenant=None, types=None):
    rows = OutboxEvent.objects.unscoped().order_by("id")
    if contact_id is not None:
        rows = rows.filter(aggregate_id=contact_id)
    if tenant is not None:
        rows = rows.filter(tenant=tenant)
    if types is not None:
        rows = rows.filter(event_type__in=types)
    return list(rows)


def contact_url(contact_id, action=None):
    return reverse(f"contact-{action}" if action else "contact-detail", kwargs={"pk": contact_id})

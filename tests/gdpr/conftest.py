"""A contact with something in every table that can hold personal data, made through the API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.urls import reverse

from contacts.models import Contact
from tests.factories import UserFactory

CONTACTS = reverse("contact-list")
DEFINITIONS = reverse("attribute-definition-list")
LISTS = reverse("list-list")

# Strings that occur nowhere else in the database, so a hit anywhere is this contact's data.
EMAIL = "quillonia.vexmartin@gdpr-erase.example"
PHONE = "+33612345678"
FIRST = "Quillonia"
LAST = "Vexmartin"
COMPANY = "Zorblaxian Widgetry"
NICKNAME = "Quillo-Zephyrine"
EXTRA_EMAIL = "q.vex.private@gdpr-erase.example"
WHATSAPP = "+447911123456"
PUSH = "push-token-Quillonia-7731"


def detail(contact_id, action: str | None = None) -> str:
    name = {"export": "contact-gdpr-export", "erase": "contact-gdpr-erase"}.get(action, f"contact-{action}")
    return reverse(name if action else "contact-detail", kwargs={"pk": contact_id})


def _like(needle: str) -> str:
    return "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def table_hits(needle: str) -> dict[str, int]:
    """Rows of every table of the database whose text form contains `needle` (any case)."""
    found = {}
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(
                f"SELECT count(*) FROM {quote(table)} AS t WHERE t::text ILIKE %s",
                [_like(needle)],
            )
            count = cursor.fetchone()[0]
            if count:
                found[table] = count
    return found


@dataclass
class Subject:
    id: str
    tenant_id: str


@pytest.fixture
def subject(api, tenant) -> Subject:
    """Fields, a custom attribute, extra identifiers, a tag, a static and a dynamic list, an update
    (history), timeline and outbox rows, consent, an activity, and an admin log entry naming the contact."""
    assert (
        api.post(DEFINITIONS, {"key": "nickname", "label": "Nickname", "type": "string"}, format="json")
    ).status_code == 201
    dynamic = api.post(
        LISTS,
        {
            "name": "Everyone in France",
            "kind": "dynamic",
            "rules": {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]},
        },
        format="json",
    )
    assert dynamic.status_code == 201, dynamic.json()
    created = api.post(
        CONTACTS,
        {
            "email": EMAIL.upper(),
            "first_name": FIRST,
            "last_name": "Provisional",
            "company": COMPANY,
            "phone": "06 12 34 56 78",
            "country": "FR",
            "city": "Paris",
            "attributes": {"nickname": NICKNAME},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    contact_id = created.json()["id"]
    assert created.json()["phone"] == PHONE
    assert (
        api.patch(detail(contact_id), {"last_name": LAST, "city": "Lyon"}, format="json").status_code == 200
    )
    for channel, value in (("email", EXTRA_EMAIL), ("whatsapp", WHATSAPP), ("push", PUSH)):
        response = api.post(
            reverse("contact-identifier-list", kwargs={"contact_pk": contact_id}),
            {"channel": channel, "value": value},
            format="json",
        )
        assert response.status_code == 201, response.json()
    assert api.post(detail(contact_id, "add-tags"), {"tags": ["VIP"]}, format="json").status_code == 200
    newsletter = api.post(LISTS, {"name": "Newsletter"}, format="json").json()
    added = api.post(
        reverse("list-contacts", kwargs={"pk": newsletter["id"]}),
        {"contact_ids": [contact_id]},
        format="json",
    )
    assert added.json() == {"changed": 1}
    if apps.is_installed("consent"):
        consent = api.post(
            reverse("contact-consents", kwargs={"contact_pk": contact_id}),
            {
                "channel": "email",
                "purpose": "newsletter",
                "status": "granted",
                "ip_address": "203.0.113.77",
                "user_agent": f"{FIRST}-Browser/7731",
                "proof": {"form": f"newsletter box ticked by {EMAIL}"},
            },
            format="json",
        )
        assert consent.status_code == 201, consent.json()
    activity = api.post(
        reverse("contact-activities", kwargs={"contact_pk": contact_id}),
        {"type": "form_submitted", "title": f"{FIRST} sent the form", "data": {"from": EMAIL}},
        format="json",
    )
    assert activity.status_code == 201, activity.json()
    contact = Contact.objects.for_tenant(tenant).get(pk=contact_id)
    LogEntry.objects.create(
        user=UserFactory(is_staff=True),
        content_type=ContentType.objects.get_for_model(Contact),
        object_id=str(contact.pk),
        object_repr=str(contact),
        action_flag=CHANGE,
        change_message=f"Looked at {EMAIL}",
    )
    return Subject(id=contact_id, tenant_id=str(tenant.pk))

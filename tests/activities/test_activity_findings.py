"""Activities: findings of a bug hunt (each failed before its fix)."""

import json

import pytest
from django.urls import reverse

from events.models import Activity, OutboxEvent

BATCH = reverse("activity-batch")


def activities_url(contact_id) -> str:
    return reverse("contact-activities", kwargs={"contact_pk": contact_id})


@pytest.fixture
def idn_contact(api):
    response = api.post("/api/v1/contacts/", {"email": "ann@bücher.de"}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.parametrize("email", ["ann@xn--bcher-kva.de", "ann@ｂüｃｈｅｒ.de"])
def test_batch_finds_a_contact_by_any_spelling_of_its_email(api, idn_contact, email):
    """The contact's email is stored canonically (contacts.normalization.canonical_email: punycode
    decoded, NFKC domain); `GET /contacts/?email=` finds it by any of these spellings, and the batch
    promises `email` "any case". A newsletter service reporting `ann@xn--bcher-kva.de` (the ASCII
    form most mail systems use) must reach the same contact, not `contact_not_found`."""
    assert api.get("/api/v1/contacts/", {"email": email}).json()["results"][0]["id"] == idn_contact["id"]

    response = api.post(BATCH, {"activities": [{"type": "email_opened", "email": email}]}, format="json")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["results"][0]["status"] == "created", body
    assert body["results"][0]["contact_id"] == idn_contact["id"]
    assert Activity.objects.unscoped().filter(contact_id=idn_contact["id"]).count() == 1


def test_activity_data_limit_counts_bytes_not_ascii_escapes(api, tenant):
    """`data` is "at most 16 KB" (docs/api.md) and the error says "At most 16384 bytes"; 4,000
    three-byte characters are 12 KB of JSON (UTF-8, as sent and stored), but the check measures
    json.dumps with ensure_ascii, where each is a 6-character \\uXXXX escape (24 KB), and refuses it."""
    from tests.factories import ContactFactory

    ann = ContactFactory(tenant=tenant, email="ann@example.com")
    data = {"subject": "日本語のニュースレター" * 364}  # 4,004 characters
    body = json.dumps({"type": "email_opened", "data": data}, ensure_ascii=False).encode()
    assert len(body) < 13_000

    response = api.post(activities_url(ann.pk), body, content_type="application/json")

    assert response.status_code == 201, response.json()
    assert OutboxEvent.objects.unscoped().filter(aggregate_id=ann.pk).count() == 1


def test_batch_activity_data_limit_counts_bytes_not_ascii_escapes(api, tenant):
    from tests.factories import ContactFactory

    ann = ContactFactory(tenant=tenant, email="ann@example.com")
    item = {"type": "email_opened", "contact_id": str(ann.pk), "data": {"emoji": "😀" * 2000}}  # 8 KB
    body = json.dumps({"activities": [item]}, ensure_ascii=False).encode()
    assert len(body) < 9_000

    response = api.post(BATCH, body, content_type="application/json")

    assert response.status_code == 200, response.json()
    assert response.json()["created"] == 1

"""Consent: findings of a bug hunt (each failed before its fix)."""

import json

import pytest
from django.urls import reverse

from consent.models import ConsentRecord
from tests.factories import ContactFactory


def consents_url(contact_id) -> str:
    return reverse("contact-consents", kwargs={"contact_pk": contact_id})


@pytest.fixture
def contact(tenant):
    return ContactFactory(tenant=tenant, email="ann@example.com")


def test_proof_limit_counts_bytes_not_ascii_escapes(api, contact):
    """`proof` is "JSON object, at most 16 KB" (docs/api.md) and the 400 says "At most 16384 bytes
    of JSON"; a checkbox text of 4,000 CJK characters is 12 KB of JSON (UTF-8), yet it is refused
    because the size is taken of json.dumps(proof) with ensure_ascii (\\uXXXX escapes, 24 KB)."""
    proof = {"checkbox_label": "ニュースレターを受け取ることに同意します" * 200}  # 4,000 characters
    body = json.dumps(
        {"channel": "email", "purpose": "marketing", "status": "granted", "proof": proof}, ensure_ascii=False
    ).encode()
    assert len(body) < 13_000

    response = api.post(consents_url(contact.pk), body, content_type="application/json")

    assert response.status_code == 201, response.json()
    assert ConsentRecord.objects.unscoped().get(contact=contact).proof == proof


def test_schema_documents_proof_as_a_json_object(api):
    """docs/api.md: `proof` is a JSON object (anything else is a 400 "Must be a JSON object"); the
    OpenAPI schema leaves it untyped (any JSON value), so generated clients accept lists and strings."""
    schema = api.get("/api/schema/?format=json").json()
    proof = schema["components"]["schemas"]["ConsentInputRequest"]["properties"]["proof"]
    assert proof.get("type") == "object", proof


def confirm_url(token: str) -> str:
    return reverse("consent-confirm", kwargs={"token": token})


def test_head_on_the_confirm_link_does_not_confirm(api, anon, contact):
    """HEAD is a safe method (RFC 9110 9.2.1): link checkers and mail scanners send it to see whether a
    link is alive. Today DRF answers HEAD with the GET handler, so a HEAD alone appends the granted
    entry, sets confirmed_at, emits contact.consent_changed and burns the token: the contact's own
    click then gets 409 token_used. A HEAD must change nothing (405, or 200 without side effects)."""
    from events.models import OutboxEvent

    body = {"channel": "email", "purpose": "marketing", "status": "pending"}
    token = api.post(consents_url(contact.pk), body, format="json").json()["confirmation"]["token"]
    events_before = OutboxEvent.objects.unscoped().filter(aggregate_id=contact.pk).count()

    anon.head(confirm_url(token))

    assert ConsentRecord.objects.unscoped().filter(contact=contact).count() == 1
    assert OutboxEvent.objects.unscoped().filter(aggregate_id=contact.pk).count() == events_before
    assert api.get(consents_url(contact.pk)).json()["current"][0]["status"] == "pending"
    response = anon.get(confirm_url(token))
    assert response.status_code == 200, response.json()


def test_a_link_sent_before_a_merge_confirms_the_merged_contact(api, anon, tenant):
    """A sign-up on contact O (pending, link mailed), then O is merged into P: P takes O's pending
    state (docs/api.md, Merges), the contact still holds O's link. Clicking it today is a 404
    "Contact not found." and P stays pending for ever (no other link exists: P's pending entry is the
    merge's derived one). The merge moved O's timeline and activities to P; the confirmation should
    follow too and grant P (unless P revoked since: token_superseded)."""
    primary = ContactFactory(tenant=tenant, email="p@example.com")
    other = ContactFactory(tenant=tenant, email="o@example.com")
    body = {"channel": "email", "purpose": "marketing", "status": "pending"}
    token = api.post(consents_url(other.pk), body, format="json").json()["confirmation"]["token"]
    merged = api.post(f"/api/v1/contacts/{primary.pk}/merge/", {"others": [str(other.pk)]}, format="json")
    assert merged.status_code == 201, merged.json()
    assert api.get(consents_url(primary.pk)).json()["current"][0]["status"] == "pending"

    response = anon.get(confirm_url(token))

    assert response.status_code == 200, response.json()
    assert api.get(consents_url(primary.pk)).json()["current"][0]["status"] == "granted"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.9", "10.0.0.2"),  # no proxy configured: the header is the caller's to write
        (1, "198.51.100.1, 203.0.113.9", "203.0.113.9"),  # what the one proxy saw, not what was sent
        (2, "198.51.100.1, 203.0.113.9", "198.51.100.1"),
        (2, "203.0.113.9", "10.0.0.2"),  # fewer hops than proxies
        (1, "not-an-ip", "10.0.0.2"),
    ],
)
def test_the_ledger_records_the_address_the_proxy_saw(api, contact, settings, proxies, forwarded, expected):
    """Behind TRUSTED_PROXY_COUNT reverse proxies REMOTE_ADDR is the nearest proxy's: the consent
    proof records the address the outermost proxy appended to X-Forwarded-For."""
    settings.TRUSTED_PROXY_COUNT = proxies
    body = {"channel": "email", "purpose": "marketing", "status": "granted"}
    response = api.post(
        consents_url(contact.pk), body, format="json", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded
    )
    assert response.status_code == 201, response.json()
    record = ConsentRecord.objects.unscoped().get(contact=contact)
    assert (record.ip_address, record.request_ip) == (expected, expected)


def test_a_forwarded_ipv6_with_a_zone_id_is_not_a_500(api, contact, settings):
    """ipaddress takes fe80::1%eth0 (a zone id), PostgreSQL's inet does not."""
    settings.TRUSTED_PROXY_COUNT = 1
    api.raise_request_exception = False
    body = {"channel": "email", "purpose": "marketing", "status": "granted"}
    response = api.post(
        consents_url(contact.pk),
        body,
        format="json",
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="fe80::1%eth0",
    )
    assert response.status_code == 201, response.content[:300]
    assert ConsentRecord.objects.unscoped().get(contact=contact).request_ip in ("fe80::1", "10.0.0.2")

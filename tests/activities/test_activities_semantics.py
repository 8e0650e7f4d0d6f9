"""Activities: counts, duplicates, sequences, last_activity_at, events and timeline entries."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from events.models import Activity, OutboxEvent, TimelineEntry
from tests.factories import ContactFactory

BATCH = reverse("activity-batch")


def activities_url(contact_id) -> str:
    return reverse("contact-activities", kwargs={"contact_pk": contact_id})


@pytest.fixture
def ann(api):
    body = api.post(reverse("contact-list"), {"email": "ann@example.com"}, format="json").json()
    return Contact.objects.unscoped().get(pk=body["id"])


@pytest.fixture
def bob(api):
    body = api.post(reverse("contact-list"), {"email": "bob@example.com"}, format="json").json()
    return Contact.objects.unscoped().get(pk=body["id"])


def test_duplicate_keys_inside_one_batch(api, ann, bob):
    body = {"activities": [
        {"type": "a_b", "contact_id": str(ann.pk), "idempotency_key": "k1"},
        {"type": "a_b", "email": "BOB@example.com", "idempotency_key": "k1"},
        {"type": "a_b", "contact_id": str(bob.pk), "idempotency_key": "k2"},
        {"type": "a_b", "contact_id": str(ann.pk)},
    ]}  # fmt: skip
    response = api.post(BATCH, body, format="json")
    assert response.status_code == 200, response.json()
    result = response.json()
    assert (result["created"], result["duplicates"], result["contacts_not_found"]) == (3, 1, 0)
    r = result["results"]
    assert r[1]["status"] == "duplicate" and r[1]["activity_id"] == r[0]["activity_id"]
    assert r[1]["contact_id"] == str(ann.pk)
    assert Activity.objects.unscoped().count() == 3
    events = OutboxEvent.objects.unscoped().filter(event_type="contact.activity_recorded").order_by("id")
    assert events.count() == 3
    ann.refresh_from_db()
    bob.refresh_from_db()
    ann_seqs = [e.sequence for e in events if str(e.aggregate_id) == str(ann.pk)]
    assert ann_seqs == [2, 3]
    assert ann.event_sequence == 3 and bob.event_sequence == 2
    for a in Activity.objects.unscoped():
        ev = OutboxEvent.objects.unscoped().get(event_id=a.event_id)
        assert ev.payload["data"]["activity_id"] == str(a.pk)
        assert ev.payload["aggregate_id"] == str(a.contact_id)
        entry = TimelineEntry.objects.unscoped().get(event_id=a.event_id)
        assert str(entry.contact_id) == str(a.contact_id)


def test_several_sources_keep_activity_event_links_right(api, ann, bob):
    body = {"activities": [
        {"type": "t_z", "contact_id": str(ann.pk), "source": "zeta", "idempotency_key": "z"},
        {"type": "t_a", "contact_id": str(bob.pk), "source": "alpha", "idempotency_key": "a"},
        {"type": "t_m", "contact_id": str(ann.pk), "idempotency_key": "m"},
        {"type": "t_b", "contact_id": str(ann.pk), "source": "alpha", "idempotency_key": "b"},
    ]}  # fmt: skip
    response = api.post(BATCH, body, format="json")
    assert response.status_code == 200, response.json()
    for a in Activity.objects.unscoped():
        ev = OutboxEvent.objects.unscoped().get(event_id=a.event_id)
        assert ev.payload["data"]["activity_id"] == str(a.pk)
        assert ev.payload["data"]["activity_type"] == a.activity_type
        assert ev.payload["data"]["source"] == a.source
        entry = TimelineEntry.objects.unscoped().get(event_id=a.event_id)
        assert entry.source == (a.source or "api")
    # per contact, sequences increase with outbox order
    for c in (ann, bob):
        seqs = list(
            OutboxEvent.objects.unscoped()
            .filter(aggregate_id=c.pk)
            .order_by("id")
            .values_list("sequence", flat=True)
        )
        assert seqs == list(range(1, len(seqs) + 1))


def test_last_activity_at_never_moves_back_within_a_batch(api, ann):
    now = timezone.now().replace(microsecond=0)
    body = {"activities": [
        {"type": "a_b", "contact_id": str(ann.pk), "occurred_at": now.isoformat()},
        {"type": "a_b", "contact_id": str(ann.pk), "occurred_at": (now - dt.timedelta(days=2)).isoformat()},
    ]}  # fmt: skip
    assert api.post(BATCH, body, format="json").status_code == 200
    ann.refresh_from_db()
    assert ann.last_activity_at == now
    body = {"activities": [
        {"type": "a_b", "contact_id": str(ann.pk), "occurred_at": (now - dt.timedelta(days=5)).isoformat()},
    ]}  # fmt: skip
    assert api.post(BATCH, body, format="json").status_code == 200
    ann.refresh_from_db()
    assert ann.last_activity_at == now


def test_occurred_at_with_offset_is_utc_z_on_the_wire(api, ann):
    response = api.post(
        activities_url(ann.pk), {"type": "a_b", "occurred_at": "2026-01-01T12:00:00.5+02:00"}, format="json"
    )
    assert response.status_code == 201, response.json()
    ev = OutboxEvent.objects.unscoped().get(event_type="contact.activity_recorded")
    assert ev.payload["occurred_at"] == "2026-01-01T10:00:00.500000Z"
    assert ev.payload["data"]["occurred_at"] == "2026-01-01T10:00:00.500000Z"


def test_duplicate_emits_nothing_and_keeps_counts(api, ann):
    body = {"type": "a_b", "idempotency_key": "dupe"}
    assert api.post(activities_url(ann.pk), body, format="json").status_code == 201
    ann.refresh_from_db()
    seq = ann.event_sequence
    last = ann.last_activity_at
    again = api.post(
        activities_url(ann.pk), body | {"occurred_at": timezone.now().isoformat()}, format="json"
    )
    assert again.status_code == 200
    ann.refresh_from_db()
    assert ann.event_sequence == seq and ann.last_activity_at == last
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.activity_recorded").count() == 1
    assert TimelineEntry.objects.unscoped().filter(event_type="contact.activity_recorded").count() == 1


def test_other_tenants_contact_is_not_found(client_for, other_tenant, api, ann):
    theirs = ContactFactory(tenant=other_tenant, email="ann@example.com")
    body = {"activities": [
        {"type": "a_b", "contact_id": str(theirs.pk)},
        {"type": "a_b", "email": "ann@example.com"},
    ]}  # fmt: skip
    result = api.post(BATCH, body, format="json").json()
    assert [r["status"] for r in result["results"]] == ["contact_not_found", "created"]
    assert result["results"][1]["contact_id"] == str(ann.pk)
    assert api.post(activities_url(theirs.pk), {"type": "a_b"}, format="json").status_code == 404
    assert api.get(activities_url(theirs.pk)).status_code == 404


def test_timeline_and_activities_paging_with_cursor_on_far_past(api, ann):
    for when in ("0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z", "2020-01-01T00:00:00.123456Z"):
        assert (
            api.post(activities_url(ann.pk), {"type": "a_b", "occurred_at": when}, format="json").status_code
            == 201
        )
    for url in (activities_url(ann.pk), reverse("contact-timeline", kwargs={"pk": ann.pk})):
        seen = []
        page = api.get(url, {"cursor": "", "page_size": 1})
        assert page.status_code == 200, page.json()
        seen += page.json()["results"]
        while page.json().get("next_cursor"):
            page = api.get(url, {"cursor": page.json()["next_cursor"], "page_size": 1})
            assert page.status_code == 200, page.json()
            seen += page.json()["results"]
        assert len(seen) == (3 if "activities" in url else 4)

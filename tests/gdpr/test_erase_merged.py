"""Erasing a contact that took part in a merge: nothing of it stays on the other contacts."""

import pytest

from contacts.models import Contact, Merge
from events.models import OutboxEvent
from tests.gdpr.conftest import detail, table_hits
from tests.merges.conftest import create, merge_url, undo_url

SECRET_EMAIL = "secret.other@gdpr-merge.example"
SECRET_PHONE = "+33699887766"
NEEDLES = [SECRET_EMAIL, SECRET_PHONE.removeprefix("+33"), "Zebulonia"]


def merge(api, primary, other, **body) -> str:
    response = api.post(merge_url(primary["id"]), {"others": [other["id"]], **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["merge_id"]


@pytest.fixture
def two(api):
    primary = create(api, email="plain.primary@example.com", first_name="Pat")
    other = create(api, email=SECRET_EMAIL, phone=SECRET_PHONE, first_name="Zebulonia", city="Lyon")
    return primary, other


def sequences(contact_id) -> list[int]:
    rows = OutboxEvent.objects.unscoped().filter(aggregate_id=contact_id).order_by("sequence")
    return list(rows.values_list("sequence", flat=True))


@pytest.mark.django_db
def test_erasing_a_contact_after_its_merge_was_undone_leaves_nothing_of_it_on_the_primary(api, two):
    """Given O merged into P (P took O's email) and the merge undone, when O is erased, then no table
    holds O's email, phone or name: not P's history, timeline or outbox rows, not the merge record."""
    primary, other = two
    merge_id = merge(api, primary, other, fields={"email": other["id"], "first_name": other["id"]})
    assert api.post(undo_url(merge_id)).status_code == 200
    for needle in NEEDLES:  # the scan sees them on the primary's rows before
        assert {
            "contacts_contactchange",
            "events_timelineentry",
            "events_outboxevent",
            "contacts_merge",
        } <= set(table_hits(needle)), needle
    kept = sequences(primary["id"])

    response = api.post(detail(other["id"], "erase"))

    assert response.status_code == 200, response.json()
    for needle in NEEDLES:
        assert table_hits(needle) == {}, needle
    assert not Merge.objects.unscoped().filter(pk=merge_id).exists()
    # The primary stays as it was, its event sequence whole (rows scrubbed, not deleted).
    assert api.get(detail(primary["id"])).json()["email"] == "plain.primary@example.com"
    assert sequences(primary["id"]) == kept
    merged = OutboxEvent.objects.unscoped().get(aggregate_id=primary["id"], event_type="contact.merged")
    assert merged.payload["data"] == {"contact_id": primary["id"], "merge_id": merge_id, "redacted": True}


@pytest.mark.django_db
def test_erasing_a_contact_merged_away_while_the_merge_applies_is_refused(api, two):
    """Given O merged into P (the merge applies: O's identifiers are P's), when O alone is erased, then a
    409 `merged` names the merge and the primary and nothing changes; erasing P erases both."""
    primary, other = two
    merge_id = merge(api, primary, other)
    events = OutboxEvent.objects.unscoped().count()

    response = api.post(detail(other["id"], "erase"))

    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["code"] == "merged"
    assert (body["merge_id"], body["primary_id"]) == (merge_id, primary["id"])
    assert Contact.objects.unscoped().filter(pk=other["id"]).exists()
    assert OutboxEvent.objects.unscoped().count() == events
    assert api.post(detail(primary["id"], "erase")).status_code == 200
    for needle in NEEDLES:
        assert table_hits(needle) == {}, needle


@pytest.mark.django_db
def test_erasing_a_contact_finds_its_merge_events_on_the_contact_its_primary_was_merged_into(api, two):
    """Given O merged into P and undone, then P merged into Q (P's timeline, which holds the first merge's
    events, moves to Q), when O is erased, then none of O's values stays anywhere: the first merge's
    events are scrubbed on Q's timeline too."""
    primary, other = two
    first = merge(api, primary, other, fields={"email": other["id"], "first_name": other["id"]})
    assert api.post(undo_url(first)).status_code == 200
    third = create(api, email="third.contact@example.com", first_name="Quinn")
    merge(api, third, primary)
    assert "events_timelineentry" in table_hits(SECRET_EMAIL)

    response = api.post(detail(other["id"], "erase"))

    assert response.status_code == 200, response.json()
    for needle in NEEDLES:
        assert table_hits(needle) == {}, needle

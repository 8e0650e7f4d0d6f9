"""Erasure vs. what merges carried: a later merge that recorded the contact's values (its primary
held them), and the other contacts' merge events naming the erased primary."""

import pytest
from django.urls import reverse

from events.models import OutboxEvent, TimelineEntry
from tests.gdpr.conftest import detail, table_hits
from tests.merges.conftest import create, merge_url, undo_url

SECRET_EMAIL = "wilhelmina.secret@nested-merge.example"
SECRET_PHONE = "+33699887766"
NEEDLES = [SECRET_EMAIL, SECRET_PHONE.removeprefix("+33"), "Wilhelmina"]


def merge(api, primary, other, **body) -> str:
    response = api.post(merge_url(primary["id"]), {"others": [other["id"]], **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["merge_id"]


@pytest.mark.django_db
def test_erasing_o_after_undoing_p_into_q_then_o_into_p_leaves_nothing_of_o(api):
    """Given O merged into P (P gains O's email and phone as identifiers, O's name), then P merged into
    Q (those identifiers move on to Q), then both merges undone in the documented order (the later one
    first), when O is erased, then none of O's values stays anywhere: not in the second merge's
    record (P's snapshot held O's identifiers), nor in Q's contact.merged / undo events and history."""
    o = create(api, email=SECRET_EMAIL, phone=SECRET_PHONE, first_name="Wilhelmina")
    p = create(api, email="plain.p@example.com")
    q = create(api, email="plain.q@example.com", first_name="Quinn")
    first = merge(api, p, o, fields={"first_name": o["id"]})
    second = merge(api, q, p)
    assert api.post(undo_url(second)).status_code == 200
    assert api.post(undo_url(first)).status_code == 200
    for needle in NEEDLES:
        assert table_hits(needle), needle

    response = api.post(detail(o["id"], "erase"))

    assert response.status_code == 200, response.json()
    seen = {
        "merge detail": api.get(reverse("merge-detail", kwargs={"pk": second})).content.decode(),
        "q timeline": api.get(detail(q["id"], "timeline")).content.decode(),
        "q history": api.get(detail(q["id"], "history")).content.decode(),
        "q export": api.get(detail(q["id"], "export")).content.decode(),
        "events": api.get(reverse("event-list"), {"contact": q["id"]}).content.decode(),
    }
    leaks = {where: needle for where, body in seen.items() for needle in NEEDLES if needle in body}
    assert leaks == {}, leaks
    for needle in NEEDLES:
        assert table_hits(needle) == {}, needle


@pytest.mark.django_db
def test_erasing_the_primary_of_an_undone_merge_leaves_no_row_naming_it_on_the_merged_contact(api):
    """Given O merged into P and the merge undone, when P is erased, then (events.md, contact.deleted
    "erased") "the outbox row is the only row left naming the contact besides its tombstone": O's
    contact.deleted (reason merged) timeline entry and outbox row still carry merged_into = P."""
    primary = create(api, email="pat.primary@example.com", first_name="Pat")
    other = create(api, email="olga.other@example.com", first_name="Olga")
    response = api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json")
    assert response.status_code == 201, response.json()
    assert api.post(undo_url(response.json()["merge_id"])).status_code == 200

    assert api.post(detail(primary["id"], "erase")).status_code == 200

    left = {
        (row.event_type, str(row.aggregate_id))
        for row in OutboxEvent.objects.unscoped().filter(payload__icontains=primary["id"])
    }
    assert left == {("contact.deleted", primary["id"])}, left
    entries = TimelineEntry.objects.unscoped().filter(contact_id=other["id"], data__merged_into=primary["id"])
    assert not entries.exists(), list(entries.values("event_type", "data"))
    assert table_hits(primary["id"]) == {"events_outboxevent": 1, "contacts_erasuretombstone": 1}

"""Undo while nothing newer depends on the merge; a 409 saying why otherwise, nothing changed."""

from datetime import datetime

import pytest
from django.urls import reverse

from contacts.models import Contact, Merge
from tests.merges.conftest import (
    comparable,
    consents_url,
    contact_url,
    create,
    export,
    last_outbox_id,
    merge_url,
    outbox,
    undo_url,
)


def merge(api, primary, *others, **body) -> str:
    response = api.post(
        merge_url(primary["id"]), {"others": [o["id"] for o in others], **body}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["merge_id"]


def refused(api, merge_id, code: str) -> dict:
    """Undo is a 409 with this code, writes nothing and emits nothing; the detail says the same."""
    before = [(c.pk, c.event_sequence, c.deleted_at) for c in Contact.objects.unscoped().order_by("pk")]
    events = last_outbox_id()
    status = Merge.objects.unscoped().get(pk=merge_id).status
    response = api.post(undo_url(merge_id))
    assert response.status_code == 409, response.json()
    body = response.json()
    assert body["code"] == code, body
    assert [
        (c.pk, c.event_sequence, c.deleted_at) for c in Contact.objects.unscoped().order_by("pk")
    ] == before
    assert last_outbox_id() == events
    assert Merge.objects.unscoped().get(pk=merge_id).status == status
    detail = api.get(reverse("merge-detail", kwargs={"pk": merge_id})).json()
    assert detail["undo"]["allowed"] is False and detail["undo"]["code"] == code
    return body


@pytest.fixture
def pair(api):
    primary = create(api, email="ann@example.com", first_name="Ann")
    other = create(api, email="ann@work.example", first_name="Ann", city="Lyon", external_id="crm-1")
    return primary, other


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda api, p: api.patch(contact_url(p["id"]), {"city": "Paris"}, format="json"), id="field"
        ),
        pytest.param(
            lambda api, p: api.post(contact_url(p["id"], "tags"), {"tags": ["Later"]}, format="json"),
            id="tag",
        ),
        pytest.param(
            lambda api, p: api.post(
                consents_url(p["id"]),
                {"channel": "sms", "purpose": "marketing", "status": "granted"},
                format="json",
            ),
            id="consent",
        ),
        pytest.param(
            lambda api, p: api.post(
                reverse("contact-identifier-list", kwargs={"contact_pk": p["id"]}),
                {"channel": "push", "value": "token-1"},
                format="json",
            ),
            id="identifier",
        ),
        pytest.param(
            lambda api, p: api.post(
                reverse("contact-activities", kwargs={"contact_pk": p["id"]}),
                {"type": "email_opened"},
                format="json",
            ),
            id="activity",
        ),
    ],
)
def test_undo_is_refused_once_the_primary_changed(api, pair, change):
    primary, other = pair
    merge_id = merge(api, primary, other)
    assert change(api, primary).status_code in (200, 201)

    body = refused(api, merge_id, "changed_since")
    assert "changed after the merge" in body["message"]
    assert api.get(contact_url(other["id"])).status_code == 404


@pytest.mark.django_db
def test_undo_is_refused_after_a_consent_statement_that_changed_nothing(api, pair):
    """A statement that leaves the state as it was emits no event, but it is still newer than the merge."""
    primary, other = pair
    body = {"channel": "email", "purpose": "marketing", "status": "granted"}
    api.post(consents_url(primary["id"]), body, format="json")
    merge_id = merge(api, primary, other)
    assert api.post(consents_url(primary["id"]), body, format="json").status_code == 201
    refused(api, merge_id, "changed_since")


@pytest.mark.django_db
def test_undo_is_refused_while_a_later_merge_involves_the_contacts_and_works_after_undoing_that(api, pair):
    primary, other = pair
    third = create(api, email="ann@third.example")
    first = merge(api, primary, other)
    second = merge(api, third, primary)  # the primary of the first merge is merged away

    body = refused(api, first, "later_merge")
    assert body["merge_id"] == second

    assert api.post(undo_url(second)).status_code == 200
    assert api.post(undo_url(first)).status_code == 200  # last in, first out
    for contact in (primary, other, third):
        assert api.get(contact_url(contact["id"])).status_code == 200


@pytest.mark.django_db
def test_undo_is_refused_when_a_merged_contact_was_erased(api, pair):
    """Erasing a merged-away contact while its merge applies is refused (409 merged); a merge whose
    contact is gone anyway (erased before that rule) cannot be undone."""
    primary, other = pair
    merge_id = merge(api, primary, other)
    assert api.post(contact_url(other["id"], "erase")).json()["code"] == "merged"
    Contact.objects.unscoped().filter(pk=other["id"]).delete()
    body = refused(api, merge_id, "erased")
    assert other["id"] in body["message"]


@pytest.mark.django_db
def test_undo_is_refused_when_another_contact_took_a_value_back(api, pair):
    primary, other = pair
    merge_id = merge(api, primary, other)
    newcomer = create(api, email="ann@work.example")  # free again once the other was merged away

    body = refused(api, merge_id, "unique")
    assert body["errors"] == [{"field": "email", "code": "unique", "message": body["message"]}]
    assert newcomer["id"] in body["message"]


@pytest.mark.django_db
def test_undo_twice_and_unknown_merges(api, client_for, other_tenant, pair):
    primary, other = pair
    merge_id = merge(api, primary, other)
    stranger = client_for(other_tenant)
    assert stranger.post(undo_url(merge_id)).status_code == 404
    assert stranger.get(reverse("merge-detail", kwargs={"pk": merge_id})).status_code == 404
    assert stranger.get(reverse("merge-list")).json()["count"] == 0
    assert api.post(undo_url("not-a-uuid")).status_code == 404
    assert api.post(undo_url(merge_id)).status_code == 200
    refused(api, merge_id, "already_undone")


@pytest.mark.django_db
def test_a_change_after_the_undo_is_kept_and_a_new_merge_can_be_undone_again(api, pair):
    primary, other = pair
    assert api.post(undo_url(merge(api, primary, other))).status_code == 200
    api.patch(contact_url(other["id"]), {"city": "Nice"}, format="json")
    before = comparable(export(api, other["id"]))
    second = merge(api, primary, other)
    assert api.post(undo_url(second)).status_code == 200
    assert comparable(export(api, other["id"])) == before


@pytest.mark.django_db
def test_merge_and_undo_events_in_order(api, trio):
    """Merge: contact.merged, what the primary gained, contact.deleted (reason merged) per other,
    then segment events; undo: contact.restored per other, then contact.updated for the primary and
    what changes back for it. Sequences per contact follow on without gaps."""
    primary, x, y = trio.primary["id"], trio.x["id"], trio.y["id"]
    start = last_outbox_id()
    sequences = {str(c.pk): c.event_sequence for c in Contact.objects.unscoped().filter(pk__in=trio.ids)}

    result = api.post(merge_url(primary), {"others": [x, y]}, format="json").json()

    events = outbox(after=start)
    assert [(t, c) for t, c, _ in events] == [
        ("contact.merged", primary),
        ("contact.tagged", primary),  # Customer
        ("contact.tagged", primary),  # Lead
        ("contact.added_to_list", primary),  # Newsletter (static, from X)
        ("contact.consent_changed", primary),  # email/marketing -> revoked
        ("contact.consent_changed", primary),  # email/newsletter -> pending
        ("contact.consent_changed", primary),  # sms/marketing -> granted
        ("contact.deleted", x),
        ("contact.deleted", y),
        ("contact.added_to_list", primary),  # the Lyon segment, now that the primary lives in Lyon
    ]
    assert [s for _, c, s in events if c == primary] == list(
        range(sequences[primary] + 1, sequences[primary] + 9)
    )
    assert [s for _, c, s in events if c == x] == [sequences[x] + 1]
    from events.models import OutboxEvent

    payloads = {
        (e.event_type, str(e.aggregate_id)): e.payload["data"]
        for e in OutboxEvent.objects.unscoped().filter(id__gt=start)
    }
    merged = payloads[("contact.merged", primary)]
    assert merged["merged_ids"] == [x, y] and merged["merge_id"] == result["merge_id"]
    assert merged["changes"]["city"] == {"old": "", "new": "Lyon"}
    assert merged["contact"]["city"] == "Lyon"
    assert {"channel": "email", "value": "ann.lee@work.example"} in merged["identifiers_added"]
    deleted = payloads[("contact.deleted", x)]
    assert (deleted["reason"], deleted["merged_into"], deleted["merge_id"]) == (
        "merged",
        primary,
        result["merge_id"],
    )

    middle = last_outbox_id()
    assert api.post(undo_url(result["merge_id"])).status_code == 200
    undo_events = outbox(after=middle)
    assert [(t, c) for t, c, _ in undo_events] == [
        ("contact.restored", x),
        ("contact.restored", y),
        ("contact.updated", primary),
        ("contact.untagged", primary),
        ("contact.untagged", primary),
        ("contact.removed_from_list", primary),  # Lyon segment
        ("contact.removed_from_list", primary),  # Newsletter
        ("contact.consent_changed", primary),
        ("contact.consent_changed", primary),
        ("contact.consent_changed", primary),
    ]
    all_primary = [s for _, c, s in outbox(primary, after=start)]
    assert all_primary == list(range(sequences[primary] + 1, sequences[primary] + 1 + len(all_primary)))
    updated = OutboxEvent.objects.unscoped().get(id__gt=middle, event_type="contact.updated").payload["data"]
    assert updated["reason"] == "merge_undone" and updated["changes"]["city"] == {"old": "Lyon", "new": ""}
    restored = (
        OutboxEvent.objects.unscoped()
        .get(id__gt=middle, event_type="contact.restored", aggregate_id=x)
        .payload["data"]
    )
    assert (
        restored["contact"]["email"] == "ann.lee@work.example" and restored["merge_id"] == result["merge_id"]
    )


@pytest.mark.django_db
def test_a_client_syncing_with_updated_after_sees_every_contact_an_undo_changed(api, pair):
    """Given a client that synced after the merge, when the merge is undone, then
    ?updated_after=<its last sync> lists the primary and the restored contact (updated_at is the undo's)."""
    primary, other = pair
    merge_id = merge(api, primary, other)
    synced = api.get(contact_url(primary["id"])).json()["updated_at"]

    assert api.post(undo_url(merge_id)).status_code == 200

    response = api.get(reverse("contact-list"), {"updated_after": synced, "page_size": 100})
    assert response.status_code == 200, response.json()
    changed = {c["id"]: c["updated_at"] for c in response.json()["results"]}
    assert set(changed) == {primary["id"], other["id"]}
    assert all(datetime.fromisoformat(at) > datetime.fromisoformat(synced) for at in changed.values())

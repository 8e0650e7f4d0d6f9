"""Activities reported by other services: single and batch, idempotency, last activity, timeline,
segment rules, and the contact.activity_recorded event."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from contacts_service.roles import Role
from events.models import Activity, OutboxEvent, TimelineEntry
from lists.models import ListMembership
from tests.factories import ContactFactory

BATCH = reverse("activity-batch")


def activities_url(contact_id) -> str:
    return reverse("contact-activities", kwargs={"contact_pk": contact_id})


@pytest.fixture
def ann(tenant):
    return ContactFactory(tenant=tenant, email="ann@example.com")


def test_report_an_activity_keeps_it_on_the_timeline_with_its_event(api, ann):
    occurred = (timezone.now() - dt.timedelta(hours=2)).replace(microsecond=0)
    response = api.post(
        activities_url(ann.pk),
        {"type": "email_opened", "occurred_at": occurred.isoformat(), "title": "Opened: Spring sale",
         "data": {"campaign_id": "c-1"}, "idempotency_key": "nl-1-ann", "source": "newsletters"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["duplicate"] is False
    assert body["type"] == "email_opened"
    ann.refresh_from_db()
    assert ann.last_activity_at == occurred
    [entry] = TimelineEntry.objects.unscoped().filter(
        contact_id=ann.pk, event_type="contact.activity_recorded"
    )
    assert entry.occurred_at == occurred
    assert entry.title == "Opened: Spring sale"
    [event] = OutboxEvent.objects.unscoped().filter(
        aggregate_id=ann.pk, event_type="contact.activity_recorded"
    )
    assert event.sequence == ann.event_sequence
    assert event.payload["data"]["activity_type"] == "email_opened"
    assert event.payload["data"]["data"] == {"campaign_id": "c-1"}
    listed = api.get(activities_url(ann.pk) + "?type=email_opened").json()
    assert [a["id"] for a in listed["results"]] == [body["id"]]
    assert api.get(activities_url(ann.pk) + "?type=form_submitted").json()["results"] == []


def test_the_same_idempotency_key_is_ignored(api, ann):
    body = {"type": "form_submitted", "idempotency_key": "form-77"}
    first = api.post(activities_url(ann.pk), body, format="json")
    again = api.post(activities_url(ann.pk), body | {"title": "changed"}, format="json")
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert Activity.objects.unscoped().count() == 1
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.activity_recorded").count() == 1
    batch = api.post(BATCH, {"activities": [body | {"contact_id": str(ann.pk)}]}, format="json").json()
    assert batch["duplicates"] == 1
    assert batch["created"] == 0
    assert Activity.objects.unscoped().count() == 1


def test_last_activity_only_moves_forward(api, ann):
    now = timezone.now().replace(microsecond=0)
    api.post(activities_url(ann.pk), {"type": "page_viewed", "occurred_at": now.isoformat()}, format="json")
    older = (now - dt.timedelta(days=3)).isoformat()
    api.post(activities_url(ann.pk), {"type": "page_viewed", "occurred_at": older}, format="json")
    ann.refresh_from_db()
    assert ann.last_activity_at == now


def test_batch_by_id_and_email_with_per_item_results_in_fixed_queries(api, tenant, ann):
    others = [ContactFactory(tenant=tenant, email=f"p{i}@example.com") for i in range(30)]
    items = [{"type": "email_clicked", "email": c.email.upper(), "idempotency_key": f"k{i}"}
             for i, c in enumerate(others)]  # fmt: skip
    items.append({"type": "email_clicked", "contact_id": str(ann.pk)})
    items.append({"type": "email_clicked", "email": "nobody@example.com"})
    items.append({"type": "email_clicked", "email": others[0].email, "idempotency_key": "k0"})  # dup in batch
    with CaptureQueriesContext(connection) as queries:
        response = api.post(BATCH, {"activities": items}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["created"], body["duplicates"], body["contacts_not_found"]) == (31, 1, 1)
    assert [r["status"] for r in body["results"][-3:]] == ["created", "contact_not_found", "duplicate"]
    assert body["results"][0]["contact_id"] == str(others[0].pk)
    assert Activity.objects.unscoped().count() == 31
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.activity_recorded").count() == 31
    assert len(queries) < 25, [q["sql"][:80] for q in queries.captured_queries]


def test_batch_with_an_invalid_item_is_a_400_naming_it_and_writes_nothing(api, ann):
    items = [
        {"type": "email_opened", "contact_id": str(ann.pk)},
        {"type": "Email Opened!", "contact_id": str(ann.pk)},
        {"type": "email_opened", "contact_id": str(ann.pk),
         "occurred_at": (timezone.now() + dt.timedelta(days=1)).isoformat()},
        {"type": "email_opened"},
        {"type": "email_opened", "contact_id": str(ann.pk), "data": {"x": "nul\u0000"}},
    ]  # fmt: skip
    response = api.post(BATCH, {"activities": items}, format="json")
    assert response.status_code == 400, response.json()
    fields = {e["field"] for e in response.json()["errors"]}
    assert {"activities.1.type", "activities.2.occurred_at", "activities.3.contact_id",
            "activities.4.data.x"} <= fields  # fmt: skip
    assert not Activity.objects.unscoped().exists()


def test_batch_size_is_limited(api, ann):
    items = [{"type": "page_viewed", "contact_id": str(ann.pk)}] * 501
    response = api.post(BATCH, {"activities": items}, format="json")
    assert response.status_code == 400
    assert not Activity.objects.unscoped().exists()


def test_permissions_and_tenancy(client_for, tenant, other_tenant, ann):
    viewer = client_for(tenant, Role.CONTACTS_VIEWER)
    assert viewer.get(activities_url(ann.pk)).status_code == 200
    assert viewer.post(activities_url(ann.pk), {"type": "x"}, format="json").status_code == 403
    assert (
        viewer.post(BATCH, {"activities": [{"type": "x", "email": ann.email}]}, format="json").status_code
        == 403
    )
    stranger = client_for(other_tenant)
    assert stranger.post(activities_url(ann.pk), {"type": "x"}, format="json").status_code == 404
    assert stranger.get(activities_url(ann.pk)).status_code == 404
    result = stranger.post(BATCH, {"activities": [{"type": "x", "contact_id": str(ann.pk)}]}, format="json")
    assert result.json()["contacts_not_found"] == 1
    assert not Activity.objects.unscoped().exists()


def test_activity_segment_rule_had_in_last_days(api, tenant, ann):
    bob = ContactFactory(tenant=tenant, email="bob@example.com")
    old = (timezone.now() - dt.timedelta(days=45)).isoformat()
    api.post(activities_url(bob.pk), {"type": "email_opened", "occurred_at": old}, format="json")
    rules = {
        "rules": [{"field": "activity", "op": "had", "value": {"type": "email_opened", "in_last_days": 30}}]
    }
    segment = api.post(
        reverse("list-list"), {"name": "Openers", "kind": "dynamic", "rules": rules}, format="json"
    )
    assert segment.status_code == 201, segment.json()
    list_id = segment.json()["id"]

    def members():
        return set(
            ListMembership.objects.unscoped()
            .filter(contact_list_id=list_id)
            .values_list("contact_id", flat=True)
        )

    assert members() == set()
    api.post(activities_url(ann.pk), {"type": "email_opened"}, format="json")
    assert members() == {ann.pk}  # entered in the same request
    api.post(BATCH, {"activities": [{"type": "email_opened", "email": bob.email}]}, format="json")
    assert members() == {ann.pk, bob.pk}
    not_had = {
        "rules": [
            {"field": "activity", "op": "not_had", "value": {"type": "email_opened", "in_last_days": 30}}
        ]
    }
    preview = api.post(reverse("list-preview"), {"rules": not_had}, format="json").json()
    assert preview["count"] == 0
    twice = {"rules": [{"field": "activity", "op": "had", "value": {"type": "email_opened", "min_count": 2}}]}
    preview = api.post(reverse("list-preview"), {"rules": twice}, format="json").json()
    assert [c["email"] for c in preview["results"]] == ["bob@example.com"]
    for value, field in (
        ({"type": "Bad Type"}, "rules.rules.0.value.type"),
        ({"type": "email_opened", "in_last_days": 0}, "rules.rules.0.value.in_last_days"),
        ({"type": "email_opened", "min_count": "2"}, "rules.rules.0.value.min_count"),
        ({"kind": "email_opened"}, "rules.rules.0.value"),
    ):
        bad = {"rules": [{"field": "activity", "op": "had", "value": value}]}
        response = api.post(reverse("list-preview"), {"rules": bad}, format="json")
        assert response.status_code == 400
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_segments_on_last_activity_at_follow_reported_activities(api, tenant, ann):
    bob = ContactFactory(tenant=tenant, email="bob@example.com")
    rules = {"rules": [{"field": "last_activity_at", "op": "in_last_days", "value": 7}]}
    list_id = api.post(reverse("list-list"), {"name": "Active", "kind": "dynamic", "rules": rules},
                       format="json").json()["id"]  # fmt: skip

    def members():
        return set(
            ListMembership.objects.unscoped()
            .filter(contact_list_id=list_id)
            .values_list("contact_id", flat=True)
        )

    api.post(activities_url(ann.pk), {"type": "page_viewed"}, format="json")
    assert members() == {ann.pk}  # entered in the same request
    api.post(BATCH, {"activities": [{"type": "page_viewed", "email": bob.email}]}, format="json")
    assert members() == {ann.pk, bob.pk}


def test_time_relative_segments_are_rebuilt_by_the_beat_task(api, tenant, ann):
    from lists.tasks import segments_rebuild_time_relative

    rules = {
        "rules": [{"field": "activity", "op": "had", "value": {"type": "email_opened", "in_last_days": 30}}]
    }
    list_id = api.post(reverse("list-list"), {"name": "Recent", "kind": "dynamic", "rules": rules},
                       format="json").json()["id"]  # fmt: skip
    api.post(activities_url(ann.pk), {"type": "email_opened"}, format="json")
    assert ListMembership.objects.unscoped().filter(contact_list_id=list_id).count() == 1
    Activity.objects.unscoped().update(occurred_at=timezone.now() - dt.timedelta(days=40))
    assert segments_rebuild_time_relative() >= 1
    assert ListMembership.objects.unscoped().filter(contact_list_id=list_id).count() == 0
    assert Contact.objects.unscoped().get(pk=ann.pk).last_activity_at is not None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"type": "x_y", "data": {"score": 1e400}}', "data"),  # parses as infinity
        ('{"type": "x_y", "data": {"nested": [-1e400]}}', "data"),
        ('{"type": "x_y", "source": "%s"}' % ("s" * 33), "source"),  # the timeline keeps 32
        ('{"type": "x_y", "idempotency_key": "%s"}' % ("k" * 256), "idempotency_key"),
        ('{"type": "x_y", "occurred_at": "0001-01-01T00:00:00+14:00"}', "occurred_at"),  # before year 1 UTC
    ],
)
def test_bad_single_activity_is_a_400_naming_the_field_and_writes_nothing(api, ann, body, field):
    response = api.generic("POST", activities_url(ann.pk), body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]
    item = body.replace("{", f'{{"contact_id": "{ann.pk}", ', 1)
    batch = f'{{"activities": [{item}]}}'
    response = api.generic("POST", BATCH, batch, content_type="application/json")
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [f"activities.0.{field}"]
    assert not Activity.objects.unscoped().exists()
    assert not OutboxEvent.objects.unscoped().filter(event_type="contact.activity_recorded").exists()


def test_a_batch_naming_one_contact_many_times_numbers_its_events_in_a_row(api, tenant, ann):
    start = Contact.objects.unscoped().get(pk=ann.pk).event_sequence
    latest = timezone.now().replace(microsecond=0) - dt.timedelta(minutes=1)
    items = [
        {"type": "page_viewed", "occurred_at": (latest - dt.timedelta(seconds=n % 50)).isoformat(),
         **({"contact_id": str(ann.pk)} if n % 2 else {"email": " Ann@Example.com "}),
         **({"idempotency_key": f"view-{n % 100}"} if n % 3 == 0 else {})}
        for n in range(500)
    ]  # fmt: skip
    response = api.post(BATCH, {"activities": items}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    keyed = len(range(0, 500, 3))
    assert (body["created"], body["duplicates"]) == (500 - keyed + 100, keyed - 100)
    ann.refresh_from_db()
    assert ann.last_activity_at == latest
    sequences = list(
        OutboxEvent.objects.unscoped()
        .filter(aggregate_id=ann.pk)
        .order_by("id")
        .values_list("sequence", flat=True)
    )
    assert sequences == list(range(start + 1, start + 1 + body["created"]))
    assert ann.event_sequence == start + body["created"]


def test_idempotency_keys_are_per_tenant(api, client_for, other_tenant, ann):
    body = {"type": "form_submitted", "idempotency_key": "form-1"}
    mine = api.post(activities_url(ann.pk), body, format="json")
    theirs_contact = ContactFactory(tenant=other_tenant, email="ann@example.com")
    stranger = client_for(other_tenant)
    theirs = stranger.post(activities_url(theirs_contact.pk), body, format="json")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert theirs.json()["id"] != mine.json()["id"]
    batch = stranger.post(BATCH, {"activities": [body | {"email": "ann@example.com"}]}, format="json").json()
    assert batch["results"][0] | {"index": 0} == {
        "index": 0, "status": "duplicate", "activity_id": theirs.json()["id"],
        "contact_id": str(theirs_contact.pk),
    }  # fmt: skip


def test_a_batch_item_with_a_malformed_email_is_a_400_naming_it(api, ann):
    items = [{"type": "email_opened", "email": ann.email}, {"type": "email_opened", "email": "not an email"}]
    response = api.post(BATCH, {"activities": items}, format="json")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["activities.1.email"]
    assert not Activity.objects.unscoped().exists()

"""Every contact write leaves history, a timeline entry and an outbox row, atomically."""

import uuid

import pytest
from django.db import connection
from django.urls import reverse

from contacts.models import Contact, ContactChange
from events.models import OutboxEvent, TimelineEntry

LIST = reverse("contact-list")


def detail(contact_id, action=None) -> str:
    return reverse(f"contact-{action}" if action else "contact-detail", kwargs={"pk": contact_id})


def outbox(contact_id) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.unscoped().filter(aggregate_id=contact_id).order_by("sequence"))


@pytest.mark.django_db
def test_history_records_field_old_new_actor_source_and_correlation_id(api):
    contact = api.post(LIST, {"email": "h@example.com", "city": "Paris"}, format="json").json()
    response = api.patch(
        detail(contact["id"]),
        {"city": "Lyon", "first_name": "Hedy"},
        format="json",
        HTTP_X_CORRELATION_ID="req-42",
    )
    assert response.status_code == 200
    assert response["X-Correlation-ID"] == "req-42"

    history = api.get(detail(contact["id"], "history")).json()
    # create: email, city, display_name, source, status; update: city, first_name, display_name
    assert history["count"] == 5 + 3
    latest = {row["field"]: row for row in history["results"] if row["correlation_id"] == "req-42"}
    assert set(latest) == {"city", "first_name", "display_name"}
    assert latest["city"]["old_value"] == "Paris" and latest["city"]["new_value"] == "Lyon"
    assert latest["city"]["source"] == "api"
    assert latest["city"]["actor"] == {
        "type": "api_key",
        "id": str(api.api_key.pk),
        "label": api.api_key.display_prefix,
    }


@pytest.mark.django_db
def test_correlation_id_is_generated_when_absent_or_unsafe(api):
    assert len(api.get(LIST)["X-Correlation-ID"]) == 32
    bad = api.get(LIST, HTTP_X_CORRELATION_ID="bad id\nwith newline")
    assert bad["X-Correlation-ID"] != "bad id\nwith newline" and len(bad["X-Correlation-ID"]) == 32


@pytest.mark.django_db
def test_each_write_emits_its_event_with_the_envelope_in_per_contact_sequence(api, tenant):
    contact = api.post(LIST, {"email": "e@example.com"}, format="json", HTTP_X_CORRELATION_ID="c-1").json()
    api.patch(detail(contact["id"]), {"status": "inactive"}, format="json")
    api.patch(detail(contact["id"]), {"status": "inactive"}, format="json")  # no change -> no event
    api.delete(detail(contact["id"]))
    api.post(detail(contact["id"], "restore"))

    events = outbox(contact["id"])
    assert [e.event_type for e in events] == [
        "contact.created",
        "contact.updated",
        "contact.deleted",
        "contact.restored",
    ]
    assert [e.sequence for e in events] == [1, 2, 3, 4]
    created = events[0].payload
    assert set(created) == {
        "event_id",
        "event_type",
        "version",
        "occurred_at",
        "tenant_id",
        "source",
        "correlation_id",
        "aggregate_type",
        "aggregate_id",
        "sequence",
        "actor",
        "data",
    }
    assert created["event_id"] == str(events[0].event_id)
    assert uuid.UUID(created["event_id"])
    assert created["tenant_id"] == str(tenant.pk)
    assert created["source"] == "contacts-service"
    assert created["correlation_id"] == "c-1"
    assert created["aggregate_id"] == contact["id"]
    assert created["data"]["contact"]["email"] == "e@example.com"
    updated = events[1].payload["data"]
    assert updated["changes"] == {"status": {"old": "active", "new": "inactive"}}
    assert events[2].payload["data"]["reason"] == "deleted"
    assert all(e.sent_at is None for e in events)

    timeline = api.get(detail(contact["id"], "timeline")).json()
    assert [t["event_type"] for t in timeline["results"]] == [
        "contact.restored",
        "contact.deleted",
        "contact.updated",
        "contact.created",
    ]
    assert timeline["results"][-1]["event_id"] == created["event_id"]


@pytest.fixture
def failing_trigger(db):
    """A real database failure: a trigger that raises when the given table gets a row."""
    created = []

    def install(table: str):
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE OR REPLACE FUNCTION test_refuse_insert() RETURNS trigger AS $$ "
                "BEGIN RAISE EXCEPTION 'refused by test trigger'; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                f"CREATE TRIGGER test_refuse BEFORE INSERT ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION test_refuse_insert()"
            )
        created.append(table)

    yield install
    with connection.cursor() as cursor:
        for table in created:
            cursor.execute(f"DROP TRIGGER IF EXISTS test_refuse ON {table}")


@pytest.mark.django_db
@pytest.mark.parametrize("table", ["events_outboxevent", "contacts_contactchange", "events_timelineentry"])
def test_a_write_whose_history_or_outbox_fails_leaves_nothing_behind(api, tenant, failing_trigger, table):
    contact = api.post(LIST, {"email": "atomic@example.com", "city": "Paris"}, format="json").json()
    before = (
        ContactChange.objects.for_tenant(tenant).count(),
        OutboxEvent.objects.unscoped().count(),
        TimelineEntry.objects.unscoped().count(),
    )
    failing_trigger(table)
    api.raise_request_exception = False

    update = api.patch(detail(contact["id"]), {"city": "Lyon"}, format="json")
    create = api.post(LIST, {"email": "second@example.com"}, format="json")

    assert update.status_code == create.status_code == 500
    assert update.json()["code"] == "server_error"
    assert Contact.objects.for_tenant(tenant).get(pk=contact["id"]).city == "Paris"
    assert not Contact.objects.for_tenant(tenant).filter(email="second@example.com").exists()
    after = (
        ContactChange.objects.for_tenant(tenant).count(),
        OutboxEvent.objects.unscoped().count(),
        TimelineEntry.objects.unscoped().count(),
    )
    assert after == before


HISTORY_KEYS = {
    "id", "field", "old_value", "new_value", "actor", "source", "changed_at", "correlation_id", "event_id",
}  # fmt: skip


@pytest.mark.django_db
def test_a_created_contact_is_one_history_row_listed_field_by_field(api, tenant):
    """Given a contact created with several fields, then its history is one stored row (one change
    event), and GET .../history/ still lists one entry per field, with the same keys and types as
    always, ids unique, stable across requests and those contacts.models.history_entry_id gives."""
    from contacts.models import history_entry_id

    data = {"email": "n@example.com", "first_name": "Nora", "last_name": "Lund", "city": "Oslo",
            "company": "Acme", "country": "NO"}  # fmt: skip
    contact = api.post(LIST, data, format="json").json()
    [row] = ContactChange.objects.for_tenant(tenant).filter(contact_id=contact["id"])

    history = api.get(detail(contact["id"], "history")).json()
    # the six fields sent, plus display_name, status and source the service sets
    fields = [entry["field"] for entry in history["results"]]
    assert sorted(fields) == sorted([*data, "display_name", "status", "source"])
    assert history["count"] == len(fields) == len(row.changes)
    # newest first: within one change, the last field written first
    assert fields == [change["field"] for change in reversed(row.changes)]
    event = OutboxEvent.objects.unscoped().get(aggregate_id=contact["id"])
    for entry in history["results"]:
        assert set(entry) == HISTORY_KEYS
        assert entry["old_value"] is None and entry["source"] == "api"
        assert entry["event_id"] == str(event.event_id)
        assert event.payload["data"]["changes"][entry["field"]]["new"] == entry["new_value"]
        assert isinstance(entry["actor"], dict) and isinstance(entry["changed_at"], str)
    ids = [entry["id"] for entry in history["results"]]
    assert len(set(ids)) == len(ids) and all(uuid.UUID(i) for i in ids)
    assert [entry["id"] for entry in api.get(detail(contact["id"], "history")).json()["results"]] == ids
    assert ids == [str(history_entry_id(row.pk, n)) for n in range(len(row.changes), 0, -1)]


@pytest.mark.django_db
def test_history_pages_across_changes_by_page_number_and_by_cursor(api):
    """Given a contact with entries of several changes (create, updates, delete, restore), then
    paging by page number and by ?cursor= (3 entries a page, cutting through changes) both give
    the whole history once, newest first, in the same order as one big page."""
    contact = api.post(LIST, {"email": "p@example.com", "city": "Paris", "first_name": "Pia"}, format="json")
    contact_id = contact.json()["id"]
    for city, name in (("Lyon", "Pam"), ("Nice", "Pat"), ("Metz", "Peg")):
        assert (
            api.patch(detail(contact_id), {"city": city, "first_name": name}, format="json").status_code
            == 200
        )
    api.delete(detail(contact_id))
    api.post(detail(contact_id, "restore"))
    url = detail(contact_id, "history")
    everything = api.get(url, {"page_size": 100}).json()
    total = everything["count"]
    assert total == len(everything["results"]) > 12
    changed_at = [entry["changed_at"] for entry in everything["results"]]
    assert changed_at == sorted(changed_at, reverse=True)
    assert [e["field"] for e in everything["results"][:2]] == ["deleted_at", "deleted_at"]  # restore, delete
    assert everything["results"][0]["old_value"] is not None and everything["results"][0]["new_value"] is None

    by_number, page = [], 1
    while True:
        body = api.get(url, {"page_size": 3, "page": page}).json()
        assert body["count"] == total
        by_number += body["results"]
        if not body["next"]:
            break
        page += 1
    by_cursor, cursor = [], ""
    while cursor is not None:
        body = api.get(url, {"page_size": 3, "cursor": cursor}).json()
        assert body["count"] == total
        by_cursor += body["results"]
        cursor = body["next_cursor"]
    assert by_number == by_cursor == everything["results"]
    assert page == (total + 2) // 3

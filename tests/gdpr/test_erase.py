"""POST /contacts/{id}/erase/: the contact and every trace of it go; a hashed tombstone stays."""

import uuid

import pytest
from django.db import connection

from contacts.models import Contact, ContactChange, ContactIdentifier, ErasureTombstone
from contacts_service.roles import Role
from events.models import OutboxEvent, TimelineEntry
from lists.models import ListMembership
from tags.models import TagAssignment
from tests.gdpr.conftest import (
    COMPANY,
    EMAIL,
    EXTRA_EMAIL,
    FIRST,
    LAST,
    NICKNAME,
    PUSH,
    WHATSAPP,
    detail,
    table_hits,
)

# The phone without its country code also catches any national or spaced form of it.
PERSONAL = [EMAIL, "612345678", FIRST, LAST, COMPANY, NICKNAME, EXTRA_EMAIL, "7911123456", PUSH]


def row_counts(contact_id) -> dict[str, int]:
    return {
        "contact": Contact.objects.unscoped().filter(pk=contact_id).count(),
        "identifiers": ContactIdentifier.objects.unscoped().filter(contact_id=contact_id).count(),
        "history": ContactChange.objects.unscoped().filter(contact_id=contact_id).count(),
        "timeline": TimelineEntry.objects.unscoped().filter(contact_id=contact_id).count(),
        "outbox": OutboxEvent.objects.unscoped().filter(aggregate_id=contact_id).count(),
        "tags": TagAssignment.objects.unscoped().filter(contact_id=contact_id).count(),
        "lists": ListMembership.objects.unscoped().filter(contact_id=contact_id).count(),
        "tombstones": ErasureTombstone.objects.unscoped().filter(contact_id=contact_id).count(),
    }


@pytest.mark.django_db
def test_erase_leaves_nothing_personal_in_any_table(api, subject):
    # The scan sees the data before: it would see any of it left behind.
    before = table_hits(EMAIL)
    for table in ("contacts_contact", "contacts_contactchange", "events_timelineentry",
                  "events_outboxevent", "django_admin_log"):  # fmt: skip
        assert before.get(table), (table, before)
    for needle in PERSONAL:
        assert table_hits(needle), needle
    assert table_hits(WHATSAPP.removeprefix("+"))["contacts_contactidentifier"] == 1

    response = api.post(detail(subject.id, "erase"))

    assert response.status_code == 200, response.json()
    receipt = response.json()
    assert set(receipt) == {"contact_id", "erased_at", "tombstone"}
    assert receipt["contact_id"] == subject.id
    assert receipt["tombstone"] == {"email": True, "phone": True}
    for needle in PERSONAL:
        assert needle.lower() not in response.content.decode().lower()
        assert table_hits(needle) == {}, needle
    # Only the contact.deleted event and the tombstones (own email+phone, extra email, WhatsApp) name it.
    assert table_hits(subject.id) == {"events_outboxevent": 1, "contacts_erasuretombstone": 3}


@pytest.mark.django_db
def test_erase_emits_contact_deleted_with_reason_erased_and_no_timeline_entry(api, subject):
    previous = OutboxEvent.objects.unscoped().filter(aggregate_id=subject.id).order_by("-sequence").first()
    assert previous.sequence >= 5
    api.post(detail(subject.id, "erase"), HTTP_X_CORRELATION_ID="erase-1")

    [event] = OutboxEvent.objects.unscoped().filter(aggregate_id=subject.id)
    assert event.event_type == "contact.deleted" and event.aggregate_type == "contact"
    assert event.sequence == previous.sequence + 1
    assert event.sent_at is None
    envelope = event.payload
    assert envelope["data"] == {"contact_id": subject.id, "reason": "erased"}
    assert envelope["sequence"] == event.sequence and envelope["correlation_id"] == "erase-1"
    assert envelope["actor"]["type"] == "api_key"
    for needle in PERSONAL:
        assert needle.lower() not in str(envelope).lower()
    assert not TimelineEntry.objects.unscoped().filter(contact_id=subject.id).exists()
    assert api.get(detail(subject.id, "timeline")).status_code == 404
    assert api.get(detail(subject.id, "export")).status_code == 404
    assert row_counts(subject.id) == {
        "contact": 0, "identifiers": 0, "history": 0, "timeline": 0, "outbox": 1, "tags": 0, "lists": 0,
        "tombstones": 3,
    }  # fmt: skip


@pytest.mark.django_db
def test_erase_of_a_soft_deleted_contact_works_and_a_second_erase_is_404(api, subject):
    assert api.delete(detail(subject.id)).status_code == 204
    response = api.post(detail(subject.id, "erase"))
    assert response.status_code == 200
    assert api.post(detail(subject.id, "restore")).status_code == 404
    again = api.post(detail(subject.id, "erase"))
    assert again.status_code == 404 and again.json()["code"] == "not_found"
    assert row_counts(subject.id)["tombstones"] == 3
    assert OutboxEvent.objects.unscoped().filter(aggregate_id=subject.id).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.MARKETING_MANAGER, Role.CONTACTS_VIEWER])
def test_roles_without_contacts_erase_get_403_and_nothing_changes(client_for, tenant, api, subject, role):
    before = row_counts(subject.id)
    exported = api.get(detail(subject.id, "export")).json()
    response = client_for(tenant, role).post(detail(subject.id, "erase"))
    assert response.status_code == 403
    assert "contacts.erase" in response.json()["message"]
    assert row_counts(subject.id) == before
    after = api.get(detail(subject.id, "export")).json()
    assert {k: v for k, v in after.items() if k != "exported_at"} == {
        k: v for k, v in exported.items() if k != "exported_at"
    }
    assert table_hits(EMAIL)


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OWNER, Role.CONTACTS_MANAGER])
def test_owners_and_contacts_managers_may_erase(user_client_for, tenant, subject, role):
    client, user = user_client_for(tenant, role)
    assert "contacts.erase" in client.get("/api/v1/me/").json()["permissions"]
    assert client.post(detail(subject.id, "erase")).status_code == 200
    tombstone = ErasureTombstone.objects.unscoped().filter(contact_id=subject.id).first()
    assert tombstone.erased_by == user.get_username()


@pytest.mark.django_db
def test_another_tenants_unknown_or_invalid_id_is_404_and_nothing_changes(client_for, other_tenant, subject):
    outsider = client_for(other_tenant)
    before = row_counts(subject.id)
    for contact_id in (subject.id, str(uuid.uuid4()), "not-a-uuid"):
        assert outsider.post(detail(contact_id, "erase")).status_code == 404, contact_id
    assert row_counts(subject.id) == before
    assert not ErasureTombstone.objects.unscoped().exists()


@pytest.mark.django_db
def test_erase_runs_with_the_erasing_flag_that_append_only_triggers_check(api, subject):
    """The consent ledger refuses DELETE unless contacts_service.erasing is on in the transaction:
    the same trigger on the history table lets the erase through and nothing else."""
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION test_append_only() RETURNS trigger AS $$ BEGIN "
            "IF coalesce(current_setting('contacts_service.erasing', true), '') <> 'on' THEN "
            "RAISE EXCEPTION 'append-only'; END IF; RETURN OLD; END $$ LANGUAGE plpgsql"
        )
        cursor.execute(
            "CREATE TRIGGER test_append_only BEFORE DELETE ON contacts_contactchange "
            "FOR EACH ROW EXECUTE FUNCTION test_append_only()"
        )
    try:
        with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
            cursor.execute("SAVEPOINT before_delete")
            try:
                cursor.execute("DELETE FROM contacts_contactchange")
            finally:
                cursor.execute("ROLLBACK TO SAVEPOINT before_delete")
        assert api.post(detail(subject.id, "erase")).status_code == 200
        assert not ContactChange.objects.unscoped().filter(contact_id=subject.id).exists()
        with connection.cursor() as cursor:  # off again once the erase is done
            cursor.execute("SELECT current_setting('contacts_service.erasing', true)")
            assert cursor.fetchone()[0] == "off"
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER IF EXISTS test_append_only ON contacts_contactchange")
            cursor.execute("DROP FUNCTION IF EXISTS test_append_only()")

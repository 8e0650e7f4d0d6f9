"""contacts 0012/0013: per-field history rows become one row per change, and back."""

import uuid

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from contacts.models import ContactChange
from contacts.selectors import contact_history
from tests.factories import ContactFactory

BEFORE = ("contacts", "0011_search_statistics")
AFTER = ("contacts", "0013_history_drop_field_columns")

OLD_ROW = (
    "INSERT INTO contacts_contactchange (id, tenant_id, contact_id, event_id, field, old_value, new_value, "
    "actor, source, correlation_id, changed_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def ids(n: int) -> list[uuid.UUID]:
    """Time-ordered ids, as the per-field rows had (the order their fields were written)."""
    return [uuid.UUID(int=(1 << 127) + i) for i in range(n)]


@pytest.mark.django_db(transaction=True)
def test_per_field_rows_become_one_row_per_change_and_back(tenant):
    contact = ContactFactory(tenant=tenant)
    event = uuid.uuid4()
    a, b, c, d, e, f = ids(6)
    rows = [
        # one event, three fields
        (a, event, "email", None, '"n@x.io"', '{"id": "k"}', "api", "r1", "2024-01-01T10:00:00Z"),
        (b, event, "city", None, '"Oslo"', '{"id": "k"}', "api", "r1", "2024-01-01T10:00:00Z"),
        (c, event, "status", None, '"active"', '{"id": "k"}', "api", "r1", "2024-01-01T10:00:00Z"),
        # no event id: grouped by contact, time, source (and request, actor)
        (d, None, "city", '"Oslo"', '"Bergen"', "{}", "admin", "r2", "2024-02-01T10:00:00Z"),
        (e, None, "company", None, '"Acme"', "{}", "admin", "r2", "2024-02-01T10:00:00Z"),
        (f, None, "company", '"Acme"', None, "{}", "import", "r3", "2024-02-01T10:00:00Z"),
    ]
    try:
        migrate(BEFORE)
        with connection.cursor() as cursor:
            for row_id, event_id, field, old, new, actor, source, request, at in rows:
                cursor.execute(
                    OLD_ROW,
                    [row_id, tenant.pk, contact.pk, event_id, field, old, new, actor, source, request, at],
                )
        migrate(AFTER)

        stored = {r.pk: r for r in ContactChange.objects.for_tenant(tenant).filter(contact=contact)}
        assert set(stored) == {a, d, f}  # each change keeps the id of its first row
        assert [x["field"] for x in stored[a].changes] == ["email", "city", "status"]
        assert stored[d].changes == [
            {"field": "city", "old": "Oslo", "new": "Bergen"},
            {"field": "company", "old": None, "new": "Acme"},
        ]
        entries = [
            (x.field, x.old_value, x.new_value, x.source, x.event_id)
            for x in contact_history(tenant=tenant, contact_id=contact.pk)
        ]
        assert entries == [  # newest first; the same time: the later change (by id) first
            ("company", "Acme", None, "import", None),
            ("company", None, "Acme", "admin", None),
            ("city", "Oslo", "Bergen", "admin", None),
            ("status", None, "active", "api", event),
            ("city", None, "Oslo", "api", event),
            ("email", None, "n@x.io", "api", event),
        ]

        migrate(BEFORE)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT field, old_value, new_value, source, event_id FROM contacts_contactchange "
                "WHERE contact_id = %s",
                [contact.pk],
            )
            back = sorted(((f, _json(o), _json(n), s, ev) for f, o, n, s, ev in cursor.fetchall()), key=repr)
        assert back == sorted(
            [(field, _json(old), _json(new), source, ev) for _, ev, field, old, new, _, source, _, _ in rows],
            key=repr,
        )
    finally:
        migrate(AFTER)


def _json(text):
    import json

    return None if text is None else json.loads(text)

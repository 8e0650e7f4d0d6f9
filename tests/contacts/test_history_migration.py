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


@pytest.fixture(autouse=True)
def latest_schema_after():
    """Each test ends at AFTER; later migrations (contacts 0014, 0015...) must be applied again, or the
    tests that run next see the schema as it was at AFTER."""
    yield
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


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


@pytest.mark.django_db(transaction=True)
def test_0012_stopped_during_the_conversion_runs_again_to_the_end(tenant, monkeypatch):
    """0012 is not atomic and converts for hours on a big table: a run stopped there (a deploy's
    timeout, a lost connection) leaves `changes` added and some contacts converted; running
    `migrate` again must finish the job, not fail on the column it added."""
    import importlib

    module = importlib.import_module("contacts.migrations.0012_history_one_row_per_change")
    contacts = [ContactFactory(tenant=tenant) for _ in range(3)]
    row_ids = iter(ids(6))
    try:
        migrate(BEFORE)
        with connection.cursor() as cursor:
            for contact in contacts:
                for field in ("email", "city"):
                    cursor.execute(
                        OLD_ROW,
                        [next(row_ids), tenant.pk, contact.pk, None, field, None, '"x"', "{}", "api", "r",
                         "2024-01-01T10:00:00Z"],
                    )  # fmt: skip
        batches = module.contact_batches

        def stopped_after_one(connection, contact_ids=None):
            for n, batch in enumerate(batches(connection, contact_ids)):
                if n == 1:
                    raise RuntimeError("stopped")
                yield batch

        monkeypatch.setattr(module, "BATCH", 1)
        monkeypatch.setattr(module, "contact_batches", stopped_after_one)
        with pytest.raises(RuntimeError, match="stopped"):
            migrate(("contacts", "0012_history_one_row_per_change"))
        monkeypatch.setattr(module, "contact_batches", batches)

        migrate(AFTER)
        for contact in contacts:
            entries = [x.field for x in contact_history(tenant=tenant, contact_id=contact.pk)]
            assert entries == ["city", "email"]
    finally:
        migrate(AFTER)

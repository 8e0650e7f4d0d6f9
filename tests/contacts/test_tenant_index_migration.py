"""contacts 0015: contacts_contact loses its index on tenant_id alone, keeps its tenant foreign key."""

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

BEFORE = ("contacts", "0014_drop_redundant_contact_indexes")


def migrate(target) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def migrate_latest() -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())


def tenant_index_and_fk() -> tuple[list[str], list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "contacts_contact")
    on_tenant = {n: c for n, c in constraints.items() if c["columns"] == ["tenant_id"]}
    return (
        [n for n, c in on_tenant.items() if c["index"] and not c["unique"]],
        [n for n, c in on_tenant.items() if c["foreign_key"]],
    )


@pytest.mark.django_db(transaction=True)
def test_the_tenant_index_goes_and_comes_back_and_the_foreign_key_stays():
    indexes, fks = tenant_index_and_fk()
    assert indexes == [] and len(fks) == 1
    try:
        migrate(BEFORE)
        indexes, fks = tenant_index_and_fk()
        assert len(indexes) == 1 and len(fks) == 1
    finally:
        migrate_latest()
    indexes, fks = tenant_index_and_fk()
    assert indexes == [] and len(fks) == 1
    # still enforced: a contact of a tenant that does not exist is refused
    with (
        pytest.raises(IntegrityError, match="foreign key"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(
            "INSERT INTO contacts_contact (id, tenant_id, first_name, last_name, display_name, "
            "display_name_custom, company, country, city, status, source, attributes, created_at, "
            "updated_at, event_sequence) VALUES (gen_random_uuid(), gen_random_uuid(), '', '', '', "
            "false, '', '', '', 'active', '', '{}', now(), now(), 0)"
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

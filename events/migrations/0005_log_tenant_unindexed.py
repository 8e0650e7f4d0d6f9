"""Timeline and outbox rows: no index on tenant_id alone and no foreign key constraint on it.

Every other index of both tables starts with tenant_id (so the one on tenant_id alone served
nothing they do not), and the deferred constraint was checked row by row at commit: a bulk tag of
20,000 contacts wrote and checked 40,000 of each for these two tables (events.models.log_tenant).

Safe on big tables (PostgreSQL): the index goes with DROP INDEX CONCURRENTLY (the migration is not
atomic) and the constraint drop needs its lock only for an instant; lock_timeout makes it fail fast,
to be run again, rather than queue writes behind a long transaction. Found by their column, not by
name. Other databases keep both (harmless) and only the model state changes.
"""

import django.db.models.deletion
from django.db import migrations, models

TABLES = ("events_timelineentry", "events_outboxevent")


def _tenant_index_and_fk(connection, table):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    index = [
        n for n, c in constraints.items() if c["index"] and not c["unique"] and c["columns"] == ["tenant_id"]
    ]
    fk = [n for n, c in constraints.items() if c["foreign_key"] and c["columns"] == ["tenant_id"]]
    return index, fk


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    for table in TABLES:
        indexes, fks = _tenant_index_and_fk(connection, table)
        for name in fks:
            schema_editor.execute("SET lock_timeout = '10s'")
            schema_editor.execute(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{name}"')
            schema_editor.execute("RESET lock_timeout")
        for name in indexes:
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    for table in TABLES:
        indexes, fks = _tenant_index_and_fk(connection, table)
        if not indexes:
            schema_editor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {table}_tenant_id ON {table} (tenant_id)"
            )
        if not fks:
            name = f"{table}_tenant_id_fk"
            schema_editor.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (tenant_id) "
                "REFERENCES contacts_service_tenant (id) DEFERRABLE INITIALLY DEFERRED NOT VALID"
            )
            schema_editor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")


def _tenant():
    return models.ForeignKey(
        db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+",
        to="contacts_service.tenant",
    )  # fmt: skip


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts_service", "0002_tenant_plan"),
        ("events", "0004_activities"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AlterField(model_name="outboxevent", name="tenant", field=_tenant()),
                migrations.AlterField(model_name="timelineentry", name="tenant", field=_tenant()),
            ],
        )
    ]

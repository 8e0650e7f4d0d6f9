"""Migration operations shared by several apps' migrations (keep them stable: migrations import them)."""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


def _tenant_index_and_fk(connection, table: str) -> tuple[list[str], list[str]]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    index = [
        n for n, c in constraints.items() if c["index"] and not c["unique"] and c["columns"] == ["tenant_id"]
    ]
    fk = [n for n, c in constraints.items() if c["foreign_key"] and c["columns"] == ["tenant_id"]]
    return index, fk


def drop_tenant_index_and_fk(*tables: str) -> migrations.RunPython:
    """Drop the index on tenant_id alone and the foreign key constraint on tenant_id of these tables
    (log tables whose other indexes all start with tenant_id and whose rows are written by the
    thousand). Safe on big tables (PostgreSQL): DROP INDEX CONCURRENTLY (the migration must not be
    atomic) and the constraint drop under lock_timeout, so it fails fast, to be run again, rather than
    queue writes behind a long transaction. Found by their column, not by name. Other databases keep
    both (harmless). The reverse puts both back (NOT VALID, then VALIDATE)."""
    return _drop_tenant(tables, fk=True)


def drop_tenant_index(*tables: str) -> migrations.RunPython:
    """drop_tenant_index_and_fk that keeps the foreign key constraint: for tables whose rows matter
    on their own (contacts), where only the index is redundant."""
    return _drop_tenant(tables, fk=False)


def _drop_tenant(tables: tuple[str, ...], *, fk: bool) -> migrations.RunPython:
    def forwards(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        for table in tables:
            indexes, fks = _tenant_index_and_fk(connection, table)
            for name in fks if fk else ():
                schema_editor.execute("SET lock_timeout = '10s'")
                schema_editor.execute(f'ALTER TABLE {table} DROP CONSTRAINT IF EXISTS "{name}"')
                schema_editor.execute("RESET lock_timeout")
            for name in indexes:
                schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')

    def backwards(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        for table in tables:
            indexes, fks = _tenant_index_and_fk(connection, table)
            if not indexes:
                schema_editor.execute(
                    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {table}_tenant_id ON {table} (tenant_id)"
                )
            if fk and not fks:
                name = f"{table}_tenant_id_fk"
                schema_editor.execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {name} FOREIGN KEY (tenant_id) "
                    "REFERENCES contacts_service_tenant (id) DEFERRABLE INITIALLY DEFERRED NOT VALID"
                )
                schema_editor.execute(f"ALTER TABLE {table} VALIDATE CONSTRAINT {name}")

    return migrations.RunPython(forwards, backwards)


def unconstrained_tenant() -> models.ForeignKey:
    """The model state of such a tenant column: no constraint, no index of its own."""
    return models.ForeignKey(
        db_constraint=False, db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name="+",
        to="contacts_service.tenant",
    )  # fmt: skip


def build_index(schema_editor, name: str, table: str, columns: str) -> None:
    """CREATE INDEX name ON table (columns), CONCURRENTLY on PostgreSQL (the migration must not be
    atomic), plainly elsewhere. An index of that name left invalid by an interrupted build is dropped and
    built again; a valid one (built by hand first) is kept."""
    if schema_editor.connection.vendor != "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [name])
        row = cursor.fetchone()
    if row is not None and not row[0]:
        schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
    schema_editor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} ({columns})")


def drop_index(schema_editor, name: str) -> None:
    """DROP INDEX name, CONCURRENTLY on PostgreSQL, plainly elsewhere."""
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


def drop_index_concurrently(name: str, table: str, columns: str) -> migrations.RunPython:
    """Drop an index by name (drop_index); the reverse builds it again on (columns) (build_index)."""
    return migrations.RunPython(
        lambda apps, schema_editor: drop_index(schema_editor, name),
        lambda apps, schema_editor: build_index(schema_editor, name, table, columns),
    )


def replace_index(table: str, old: tuple[str, str], new: tuple[str, str]) -> migrations.RunPython:
    """Build the index new = (name, columns) on table, then drop the index old = (name, columns): both
    CONCURRENTLY on PostgreSQL (build_index, drop_index). The reverse does the same the other way."""

    def swap(build: tuple[str, str], drop: tuple[str, str]):
        def run(apps, schema_editor):
            build_index(schema_editor, build[0], table, build[1])
            drop_index(schema_editor, drop[0])

        return run

    return migrations.RunPython(swap(new, old), swap(old, new))

"""docs/scaling.md stays true to the schema: its Citus table list names every table of the database,
each tenant table (one with a tenant_id column) as distributed and every other one as reference or
local, and it names each unique index of a tenant table that lacks tenant_id (Citus refuses them)."""

import re
from pathlib import Path

import pytest
from django.db import connection

DOC = Path(__file__).resolve().parents[2] / "docs" / "scaling.md"


def doc_tables() -> dict[str, str]:
    """{table: kind} from the table under '### Tables'."""
    section = DOC.read_text().split("### Tables", 1)[1].split("\n### ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9_]+)` \| ([a-z]+) \|", section, flags=re.MULTILINE)
    tables = dict(rows)
    assert len(tables) == len(rows), "a table is listed twice"
    return tables


def schema_tables() -> dict[str, bool]:
    """{table: has a tenant_id column} for every table of the public schema."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid "
            "AND a.attname = 'tenant_id' AND NOT a.attisdropped) FROM pg_class c "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')"
        )
        return dict(cursor.fetchall())


def unique_indexes_without_tenant() -> set[str]:
    """Unique indexes (but the primary keys, all `(id)`: the doc says so) of tenant tables that do
    not include tenant_id."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid WHERE t.relnamespace = 'public'::regnamespace "
            "AND x.indisunique AND NOT x.indisprimary "
            "AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = 'tenant_id') "
            "AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid "
            "AND a.attname = 'tenant_id' AND a.attnum = ANY(x.indkey))"
        )
        return {name for (name,) in cursor.fetchall()}


@pytest.mark.django_db
def test_every_table_is_listed_once_with_the_kind_its_tenant_id_column_decides():
    listed, schema = doc_tables(), schema_tables()

    assert sorted(set(schema) - set(listed)) == [], "tables missing from docs/scaling.md"
    assert sorted(set(listed) - set(schema)) == [], "docs/scaling.md lists tables that do not exist"
    allowed = {True: {"distributed"}, False: {"reference", "local"}}  # by "has tenant_id"
    wrong = {table: kind for table, kind in listed.items() if kind not in allowed[schema[table]]}
    assert wrong == {}, "tenant tables must be distributed, the others reference or local"


@pytest.mark.django_db
def test_the_doc_names_every_unique_index_of_a_tenant_table_that_lacks_tenant_id():
    missing = {name for name in unique_indexes_without_tenant() if f"`{name}`" not in DOC.read_text()}
    assert missing == set()


@pytest.mark.django_db
def test_the_doc_names_every_primary_key_that_lacks_tenant_id():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT pg_get_constraintdef(k.oid) FROM pg_constraint k "
            "JOIN pg_class t ON t.oid = k.conrelid "
            "WHERE k.contype = 'p' AND t.relnamespace = 'public'::regnamespace AND EXISTS "
            "(SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = 'tenant_id')"
        )
        keys = {definition for (definition,) in cursor.fetchall()}
    # The doc says every primary key is `(id)` alone and must become (tenant_id, id).
    assert keys == {"PRIMARY KEY (id)"}
    assert "Every primary key today is `(id)` alone" in DOC.read_text()

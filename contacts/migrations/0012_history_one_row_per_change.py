"""History: one row per change event (`changes`: [{field, old, new}, ...]) instead of one row per field.

Why this form, and not reading the history from the timeline: an import wrote about a dozen history
rows per new contact (one per field), each a heap tuple and an index entry, and they were most of
what an import wrote. Keeping contacts_contactchange with one row per event is the smaller change
that stays correct: merges still move history rows by id (and undo moves them back), GDPR erase
still deletes them by contact, the merge's `identifiers.<channel>` entries (not in the timeline's
`changes` map) keep their place, rows written before events existed (event_id null) keep theirs,
and the timeline stays free to change shape. `changes` is a list, not a {field: {old, new}} map: a
merge may add two emails (two `identifiers.email` entries), and JSONB would re-sort a map's keys.

The API and the GDPR export still list one entry per field: they read the view
contacts_contactchangeentry (model ContactChangeEntry), one row per element of `changes`, whose id
is a name-based UUIDv8 of the row id and the position (contacts.models.history_entry_id): stable,
unique, but not the per-field row ids of before (those rows are gone).

What it does, in order (not atomic, so no step holds its locks beyond its own short transaction):
  1. adds `changes` (jsonb, default '[]' in the database: an INSERT of the previous code, still
     running during a deploy, keeps working) and drops NOT NULL on `field`: both catalog-only.
  2. converts the per-field rows, 1,000 contacts per transaction (walking contacts_contact by id):
     the rows of one event (same event_id; with no event_id, same contact, changed_at, source,
     correlation_id and actor) become the oldest of them, its `changes` in the order of their ids
     (the order they were written), the others are deleted. Row locks on those rows only; the
     whole table is rewritten at the pace of the batches (see docs/operations.md).
  3. creates the view.
The old columns (field, old_value, new_value) are dropped by 0013, after a last pass over rows
that processes of the previous release wrote meanwhile.

Reversible: backwards turns each row back into one row per entry (the first keeps the row id, the
others get new random ids, so the order of one event's fields in the old API may differ) and sets
NOT NULL on `field` again (a scan under an exclusive lock: fine on a small table).

SQLite (the embedded default of ./scripts/run) takes its own simpler path: a local database with no
deploy running beside the migration. The per-field rows of an existing file are converted in one
transaction, in Python (same grouping and order as FORWARD), then Django drops the three columns
(SQLite rebuilds the table; nothing to wait for) and 0013 has nothing left to do. The view is the
same, written with json_each; its ids come from the SQL function contacts_history_entry_id, which
contacts.apps registers on every SQLite connection and which calls history_entry_id, so an entry
has the same id on both databases. Backwards rebuilds the columns and the per-field rows likewise.
"""

import json
import uuid

import django.utils.timezone
from django.db import migrations, models, transaction

BATCH = 1000
CONVERTED = "field IS NULL"

# The rows of one event: same event_id, or (no event_id) same contact, time, source, request, actor.
FORWARD = """
WITH grouped AS (
    SELECT array_agg(id ORDER BY id) AS ids,
           jsonb_agg(jsonb_build_object('field', field, 'old', old_value, 'new', new_value) ORDER BY id)
               AS changes
    FROM contacts_contactchange
    WHERE contact_id = ANY(%s::uuid[]) AND field IS NOT NULL
    GROUP BY contact_id, event_id,
             CASE WHEN event_id IS NULL THEN changed_at END, CASE WHEN event_id IS NULL THEN source END,
             CASE WHEN event_id IS NULL THEN correlation_id END, CASE WHEN event_id IS NULL THEN actor END
), kept AS (
    UPDATE contacts_contactchange AS c
    SET changes = g.changes, field = NULL, old_value = NULL, new_value = NULL
    FROM grouped AS g WHERE c.id = g.ids[1]
)
DELETE FROM contacts_contactchange WHERE id IN (SELECT unnest(ids[2:]) FROM grouped)
"""

BACKWARD = """
WITH entries AS (
    SELECT c.*, e.item, e.n
    FROM contacts_contactchange AS c
    CROSS JOIN LATERAL jsonb_array_elements(c.changes) WITH ORDINALITY AS e(item, n)
    WHERE c.contact_id = ANY(%s::uuid[]) AND c.field IS NULL
), added AS (
    INSERT INTO contacts_contactchange (id, tenant_id, contact_id, event_id, field, old_value, new_value,
                                        actor, source, correlation_id, changed_at, changes)
    SELECT gen_random_uuid(), tenant_id, contact_id, event_id, item->>'field',
           NULLIF(item->'old', 'null'::jsonb), NULLIF(item->'new', 'null'::jsonb), actor, source,
           correlation_id, changed_at, '[]'::jsonb
    FROM entries WHERE n > 1
)
UPDATE contacts_contactchange AS c
SET field = e.item->>'field', old_value = NULLIF(e.item->'old', 'null'::jsonb),
    new_value = NULLIF(e.item->'new', 'null'::jsonb), changes = '[]'::jsonb
FROM entries AS e WHERE c.id = e.id AND e.n = 1
"""

# The entries of one `changes` list with their position (from 1). A function of its own for its ROWS
# estimate: the planner takes 100 rows for jsonb_array_elements, so a contact with 200 changes
# looked like 20,000 entries to the paging's count (see contacts_service.pagination); SET keeps it
# from being inlined (which would drop the estimate).
FIELDS_FUNCTION = """
CREATE OR REPLACE FUNCTION contacts_change_fields(changes jsonb) RETURNS TABLE (item jsonb, n integer)
LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 8 SET search_path = pg_catalog
AS $$ SELECT e.item, e.n::integer FROM jsonb_array_elements(changes) WITH ORDINALITY AS e(item, n) $$
"""

# One row per element of `changes`. The id: SHA-256 of the row id's 16 bytes and the position as
# text, first 16 bytes, version 8 and variant bits set (contacts.models.history_entry_id).
VIEW = """
CREATE OR REPLACE VIEW contacts_contactchangeentry AS
SELECT
    encode(set_byte(set_byte(d.h, 6, (get_byte(d.h, 6) & 15) | 128), 8, (get_byte(d.h, 8) & 63) | 128),
           'hex')::uuid AS id,
    c.id AS change_id,
    e.n AS position,
    c.tenant_id,
    c.contact_id,
    c.event_id,
    (e.item->>'field')::varchar(100) AS field,
    e.item->'old' AS old_value,
    e.item->'new' AS new_value,
    c.actor,
    c.source,
    c.correlation_id,
    c.changed_at
FROM contacts_contactchange AS c
CROSS JOIN LATERAL contacts_change_fields(c.changes) AS e
CROSS JOIN LATERAL (
    SELECT substring(sha256(uuid_send(c.id) || convert_to(e.n::text, 'UTF8')) FROM 1 FOR 16) AS h
) AS d
"""


# SQLite: the same view. UUIDs are 32 hex digits there, so is the id the function returns; a value is
# JSON text (json_quote keeps strings, numbers, arrays and objects; json_extract would give true and
# false as 1 and 0, so the JSON types are spelled out).
SQLITE_VALUE = """CASE json_type(e.value, '$.{key}') WHEN 'true' THEN 'true' WHEN 'false' THEN 'false'
        WHEN 'null' THEN 'null' ELSE json_quote(json_extract(e.value, '$.{key}')) END"""
SQLITE_VIEW = f"""
CREATE VIEW contacts_contactchangeentry AS
SELECT
    contacts_history_entry_id(c.id, e.key + 1) AS id,
    c.id AS change_id,
    e.key + 1 AS position,
    c.tenant_id,
    c.contact_id,
    c.event_id,
    json_extract(e.value, '$.field') AS field,
    {SQLITE_VALUE.format(key="old")} AS old_value,
    {SQLITE_VALUE.format(key="new")} AS new_value,
    c.actor,
    c.source,
    c.correlation_id,
    c.changed_at
FROM contacts_contactchange AS c, json_each(c.changes) AS e
"""


def contact_batches(connection, contact_ids=None):
    """Lists of BATCH contact ids: `contact_ids` if given, else every contact by id (keyset)."""
    if contact_ids is not None:
        for start in range(0, len(contact_ids), BATCH):
            yield contact_ids[start : start + BATCH]
        return
    last = None
    while True:
        with connection.cursor() as cursor:
            if last is None:
                cursor.execute("SELECT id FROM contacts_contact ORDER BY id LIMIT %s", [BATCH])
            else:
                cursor.execute("SELECT id FROM contacts_contact WHERE id > %s ORDER BY id LIMIT %s", [last, BATCH])
            ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return
        yield ids
        last = ids[-1]


def run_batches(connection, statement: str, contact_ids=None) -> None:
    for ids in contact_batches(connection, contact_ids):
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(statement, [[str(i) for i in ids]])


def convert(connection, contact_ids=None) -> None:
    """Step 2 of the docstring (also 0013's last pass, over the contacts it names)."""
    run_batches(connection, FORWARD, contact_ids)


def _json(text):
    return None if text is None else json.loads(text)


def sqlite_convert(connection) -> None:
    """FORWARD on SQLite, in Python and in one transaction: a local file's history is small, and no
    other process writes to it during the migration. The columns are dropped right after (so the
    rows need no marking as converted)."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, contact_id, event_id, changed_at, source, correlation_id, actor, field, old_value, "
            "new_value FROM contacts_contactchange ORDER BY id"  # hex ids: the order of uuid on PostgreSQL
        )
        events: dict[tuple, list] = {}
        for row_id, contact_id, event_id, at, source, request, actor, field, old, new in cursor.fetchall():
            key = (contact_id, event_id)
            if event_id is None:
                key += (at, source, request, actor)
            entry = {"field": field, "old": _json(old), "new": _json(new)}
            events.setdefault(key, []).append((row_id, entry))
        cursor.executemany(
            "UPDATE contacts_contactchange SET changes = %s WHERE id = %s",
            [(json.dumps([entry for _, entry in rows]), rows[0][0]) for rows in events.values()],
        )
        cursor.executemany(
            "DELETE FROM contacts_contactchange WHERE id = %s",
            [(row_id,) for rows in events.values() for row_id, _ in rows[1:]],
        )


def sqlite_expand(connection) -> None:
    """BACKWARD on SQLite (the columns are back, `field` filled with '' by the rebuild)."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, tenant_id, contact_id, event_id, actor, source, correlation_id, changed_at, changes "
            "FROM contacts_contactchange"
        )
        first, added = [], []
        for row_id, tenant_id, contact_id, event_id, actor, source, request, at, changes in cursor.fetchall():
            for n, entry in enumerate(json.loads(changes)):
                values = [
                    entry.get("field"),
                    None if entry.get("old") is None else json.dumps(entry["old"]),
                    None if entry.get("new") is None else json.dumps(entry["new"]),
                ]
                if n == 0:
                    first.append((*values, row_id))
                else:
                    added.append((uuid.uuid4().hex, tenant_id, contact_id, event_id, *values, actor, source,
                                  request, at))  # fmt: skip
        cursor.executemany(
            "UPDATE contacts_contactchange SET field = %s, old_value = %s, new_value = %s, changes = '[]' "
            "WHERE id = %s",
            first,
        )
        cursor.executemany(
            "INSERT INTO contacts_contactchange (id, tenant_id, contact_id, event_id, field, old_value, "
            "new_value, actor, source, correlation_id, changed_at, changes) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, '[]')",
            added,
        )
        cursor.execute("DELETE FROM contacts_contactchange WHERE changes = '[]' AND field = ''")  # no entries


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        sqlite_convert(connection)
        return
    if connection.vendor != "postgresql":
        return
    convert(connection)
    schema_editor.execute(FIELDS_FUNCTION)
    schema_editor.execute(VIEW)


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "sqlite":
        sqlite_expand(connection)
        return
    if connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP VIEW IF EXISTS contacts_contactchangeentry")
    schema_editor.execute("DROP FUNCTION IF EXISTS contacts_change_fields(jsonb)")
    run_batches(connection, BACKWARD)
    schema_editor.execute("DELETE FROM contacts_contactchange WHERE field IS NULL")  # entries: none
    schema_editor.execute("ALTER TABLE contacts_contactchange ALTER COLUMN field SET NOT NULL")


def sqlite_view(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_VIEW)


def sqlite_drop_view(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP VIEW IF EXISTS contacts_contactchangeentry")


class AddFieldUnlessPresent(migrations.AddField):
    """On PostgreSQL, AddField that finds the column already there when a previous run of this
    (non-atomic) migration stopped after adding it (the conversion of a big table runs for hours: an
    interrupted deploy, a lost connection): `migrate` then runs it again from its first operation,
    and every later step there is idempotent (FORWARD converts only rows with a `field`). Not on
    SQLite, whose conversion leaves no mark on the rows it converted: a second run would convert
    them again (and keep only each change's first field)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)
            return
        with connection.cursor() as cursor:
            columns = connection.introspection.get_table_description(cursor, model._meta.db_table)
        if any(column.name == model._meta.get_field(self.name).column for column in columns):
            return
        super().database_forwards(app_label, schema_editor, from_state, to_state)


class RemoveFieldOnSQLite(migrations.RemoveField):
    """RemoveField whose column goes at once on SQLite only; PostgreSQL keeps it (nullable) until
    0013 has converted what the previous release wrote meanwhile."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "sqlite":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "sqlite":
            return
        # As AddField(preserve_default=False): `field` comes back NOT NULL, '' in the rebuilt rows
        # until sqlite_expand fills it.
        field = to_state.apps.get_model(app_label, self.model_name)._meta.get_field(self.name)
        empty = not field.null and field.default is models.NOT_PROVIDED
        if empty:
            field.default = ""
        try:
            super().database_backwards(app_label, schema_editor, from_state, to_state)
        finally:
            if empty:
                field.default = models.NOT_PROVIDED


def drop_not_null(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE contacts_contactchange ALTER COLUMN field DROP NOT NULL")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0011_search_statistics"), ("contacts_service", "0002_tenant_plan")]

    operations = [
        AddFieldUnlessPresent(
            model_name="contactchange",
            name="changes",
            field=models.JSONField(
                default=list, db_default=models.Value([], output_field=models.JSONField())
            ),
        ),
        migrations.RunPython(drop_not_null, migrations.RunPython.noop),
        migrations.RunPython(forwards, backwards),
        # The models no longer have the per-field columns. PostgreSQL keeps them (nullable) until 0013;
        # SQLite drops them now, before its view is made (SQLite will not rebuild a table a view reads).
        RemoveFieldOnSQLite(model_name="contactchange", name="field"),
        RemoveFieldOnSQLite(model_name="contactchange", name="old_value"),
        RemoveFieldOnSQLite(model_name="contactchange", name="new_value"),
        migrations.RunPython(sqlite_view, sqlite_drop_view),
        migrations.CreateModel(
            name="ContactChangeEntry",
            fields=[
                ("id", models.UUIDField(editable=False, primary_key=True, serialize=False)),
                ("position", models.PositiveIntegerField()),
                ("event_id", models.UUIDField(blank=True, null=True)),
                ("field", models.CharField(max_length=100)),
                ("old_value", models.JSONField(blank=True, null=True)),
                ("new_value", models.JSONField(blank=True, null=True)),
                ("actor", models.JSONField(default=dict)),
                ("source", models.CharField(
                    choices=[("api", "API"), ("import", "Import"), ("merge", "Merge"), ("admin", "Admin"),
                             ("system", "System")],
                    max_length=16,
                )),
                ("correlation_id", models.CharField(blank=True, max_length=128)),
                ("changed_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("change", models.ForeignKey(
                    db_constraint=False, on_delete=models.deletion.DO_NOTHING, related_name="+",
                    to="contacts.contactchange",
                )),
                ("contact", models.ForeignKey(
                    db_constraint=False, on_delete=models.deletion.DO_NOTHING, related_name="history_entries",
                    to="contacts.contact",
                )),
                ("tenant", models.ForeignKey(
                    db_constraint=False, on_delete=models.deletion.DO_NOTHING, related_name="+",
                    to="contacts_service.tenant",
                )),
            ],
            options={
                "db_table": "contacts_contactchangeentry",
                "ordering": ["-changed_at", "-change_id", "-position"],
                "managed": False,
            },
        ),
    ]

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
"""

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


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    convert(connection)
    schema_editor.execute(FIELDS_FUNCTION)
    schema_editor.execute(VIEW)


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP VIEW IF EXISTS contacts_contactchangeentry")
    schema_editor.execute("DROP FUNCTION IF EXISTS contacts_change_fields(jsonb)")
    run_batches(connection, BACKWARD)
    schema_editor.execute("DELETE FROM contacts_contactchange WHERE field IS NULL")  # entries: none
    schema_editor.execute("ALTER TABLE contacts_contactchange ALTER COLUMN field SET NOT NULL")


def drop_not_null(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE contacts_contactchange ALTER COLUMN field DROP NOT NULL")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0011_search_statistics"), ("contacts_service", "0002_tenant_plan")]

    operations = [
        migrations.AddField(
            model_name="contactchange",
            name="changes",
            field=models.JSONField(
                default=list, db_default=models.Value([], output_field=models.JSONField())
            ),
        ),
        migrations.SeparateDatabaseAndState(
            # The columns stay (nullable) until 0013; the models no longer have them.
            database_operations=[migrations.RunPython(drop_not_null, migrations.RunPython.noop)],
            state_operations=[
                migrations.RemoveField(model_name="contactchange", name="field"),
                migrations.RemoveField(model_name="contactchange", name="old_value"),
                migrations.RemoveField(model_name="contactchange", name="new_value"),
            ],
        ),
        migrations.RunPython(forwards, backwards),
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

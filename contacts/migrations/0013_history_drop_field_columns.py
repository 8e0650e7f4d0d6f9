"""History: drop the per-field columns (field, old_value, new_value) that 0012 left behind.

First a last pass of 0012's conversion over the contacts that still have per-field rows: those a
process of the previous release wrote after 0012 converted the table (during a rolling deploy).
Finding them is one sequential read of contacts_contactchange (no lock beyond ACCESS SHARE); on a
table already converted it finds none. Then the three columns are dropped: a catalog change (no
rewrite) under an exclusive lock that gives up after lock_timeout = 10 s rather than queue every
write behind a long transaction: run the migration again then.

Backwards adds the columns back, nullable (0012's backwards fills them).
"""

import importlib

from django.db import migrations

one_row_per_change = importlib.import_module("contacts.migrations.0012_history_one_row_per_change")


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT DISTINCT contact_id FROM contacts_contactchange WHERE field IS NOT NULL")
        left = [row[0] for row in cursor.fetchall()]
    one_row_per_change.convert(connection, left)
    schema_editor.execute("SET lock_timeout = '10s'")
    schema_editor.execute(
        "ALTER TABLE contacts_contactchange DROP COLUMN field, DROP COLUMN old_value, DROP COLUMN new_value"
    )
    schema_editor.execute("RESET lock_timeout")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "ALTER TABLE contacts_contactchange ADD COLUMN field varchar(100) NULL, "
        "ADD COLUMN old_value jsonb NULL, ADD COLUMN new_value jsonb NULL"
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0012_history_one_row_per_change")]

    operations = [migrations.RunPython(forwards, backwards)]

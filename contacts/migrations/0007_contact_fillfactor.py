"""Leave 20% of each contacts page free, so the updates that touch no indexed column (the event
sequence bumped by every tag, list and consent change, last_activity_at) are HOT: the new row
version stays on its page and none of the table's ~20 indexes (six of them trigram GIN) gets an
entry. Measured by bench/bulk_links.py: a bulk tag of 20,000 contacts spent 14 of its 21 s
inserting index entries for the bumped rows.

Applies to pages written from now on; an existing big table takes it with `VACUUM FULL
contacts_contact` or pg_repack in a quiet hour (docs/operations.md). PostgreSQL only.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE contacts_contact SET (fillfactor = 80)")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE contacts_contact RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0006_list_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]

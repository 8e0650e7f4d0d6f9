"""Drop timeline_type_idx (tenant_id, contact_id, event_type, occurred_at DESC) of events_timelineentry.

The timeline is always read for one contact (GET .../timeline/, the GDPR export, merges), through
timeline_contact_idx (tenant_id, contact_id, occurred_at DESC); a `types=` filter on that page is a
filter over the one contact's entries, which that index serves in order. The second index only paid
off for a contact with a very long timeline filtered to a rare type, and every event paid for it: one
more index entry per timeline row, i.e. per contact in a bulk tag or list add and per created or
updated contact in an import (a bulk tag of 100,000 contacts wrote 100,000 entries into it).

PostgreSQL drops it CONCURRENTLY (no lock on the table's writes; so not atomic); backwards builds it
again the same way.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS timeline_type_idx")


def backwards(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    schema_editor.execute(
        f"CREATE INDEX {concurrently}IF NOT EXISTS timeline_type_idx ON events_timelineentry "
        '("tenant_id", "contact_id", "event_type", "occurred_at" DESC)'
    )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("events", "0005_log_tenant_unindexed")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.RemoveIndex(model_name="timelineentry", name="timeline_type_idx")],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]

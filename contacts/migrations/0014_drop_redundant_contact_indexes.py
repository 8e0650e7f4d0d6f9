"""Drop four plain indexes of contacts_contact that the partial "live" indexes of contacts 0006 made
redundant: every filter and ordering of the contacts API, segments and exports reads live contacts,
which contact_live_updated_idx, contact_live_status_idx, contact_live_country_idx and
contact_live_last_name_idx serve (the city filter is case-insensitive, which a plain btree on city
never served). Nothing read them: 0 scans each in a load test of the API's everyday mix.

Each index is paid on every insert and on every update that changes its columns: without these four,
inserting 20,000 contacts into a tenant of 1,000,000 took 2.5 s instead of 3.1 s (-19%), which is
what an import batch and every contact created through the API pay.

PostgreSQL drops them CONCURRENTLY (no lock on the table's writes; so not atomic); backwards builds
them again the same way.
"""

from django.db import migrations

INDEXES = {
    "contact_updated_idx": ["tenant", "-updated_at"],
    "contact_status_idx": ["tenant", "status"],
    "contact_geo_idx": ["tenant", "country", "city"],
    "contact_name_idx": ["tenant", "last_name", "first_name"],
}
COLUMNS = {
    "contact_updated_idx": '"tenant_id", "updated_at" DESC',
    "contact_status_idx": '"tenant_id", "status"',
    "contact_geo_idx": '"tenant_id", "country", "city"',
    "contact_name_idx": '"tenant_id", "last_name", "first_name"',
}


def forwards(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


def backwards(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, columns in COLUMNS.items():
        schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON contacts_contact ({columns})")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0013_history_drop_field_columns")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name="contact", name=name) for name in INDEXES
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        )
    ]

"""Trigram indexes for `search` (substring, any case) on PostgreSQL; nothing on other databases.

The expressions match what Django emits for `__icontains` (UPPER(col::text) LIKE UPPER(...)) and
`__contains` on phone, so the planner can use them. Big existing tables: run
`CREATE INDEX CONCURRENTLY` by hand first (docs/operations.md); IF NOT EXISTS makes this a no-op.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "contact_email_trgm": 'UPPER("email"::text)',
    "contact_first_name_trgm": 'UPPER("first_name"::text)',
    "contact_last_name_trgm": 'UPPER("last_name"::text)',
    "contact_display_name_trgm": 'UPPER("display_name"::text)',
    "contact_company_trgm": 'UPPER("company"::text)',
    "contact_phone_trgm": '"phone"',
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, expression in INDEXES.items():
        schema_editor.execute(f'CREATE INDEX IF NOT EXISTS {name} ON contacts_contact USING gin (({expression}) gin_trgm_ops)')


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("contacts", "0002_initial")]

    operations = [TrigramExtension(), migrations.RunPython(create, drop)]

"""SQLite (the embedded default) only: rebuild the indexes on lower() / upper() expressions.

SQLite's lower() and upper() are the service's own functions (contacts.apps): they map each character
alone since this release, as PostgreSQL's do, where they mapped in context before ("İ" became "i" and
a combining dot). Index entries written with the old function no longer match what lookups compute, so
the unique names of tags and lists (and the other lower() indexes) stopped catching a clash. REINDEX
writes them again. Two names the new function makes equal ("İstanbul" and "istanbul", created apart
before) cannot share a unique index: that index is left as it was, with a warning naming it; rename
one of the two, then run REINDEX <index>. Nothing to do on PostgreSQL.
"""

import logging

from django.db import IntegrityError, migrations, transaction

logger = logging.getLogger(__name__)


def reindex(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND (lower(sql) LIKE '%lower(%' OR lower(sql) LIKE '%upper(%')"
        )
        names = [row[0] for row in cursor.fetchall()]
        for name in names:
            try:
                with transaction.atomic(using=connection.alias):
                    cursor.execute(f'REINDEX "{name}"')
            except IntegrityError as exc:
                logger.warning(
                    "index %s not rebuilt (%s): rename one of the names it holds twice, then REINDEX",
                    name,
                    exc,
                )


class Migration(migrations.Migration):
    dependencies = [
        ("contacts", "0016_canonical_email_domains"),
        ("tags", "0002_assignment_lean_indexes"),
        ("lists", "0003_membership_lean_indexes"),
        ("contacts_service", "0003_tenant_plan_choices_from_settings"),
    ]

    operations = [migrations.RunPython(reindex, migrations.RunPython.noop)]

"""Indexes of the contacts list at a million contacts per tenant, built without locking writes.

On PostgreSQL every index is created CONCURRENTLY (the migration is not atomic), and skipped when
an index of that name exists already, so an operator may build them by hand first on a big table
(docs/operations.md). The btree indexes are partial (live contacts only) and led by tenant_id; the
GIN index on (tenant_id, attributes) serves `?attribute=key:value` (jsonb @>) through btree_gin.
Other databases get the btree indexes only.
"""

from django.contrib.postgres.operations import BtreeGinExtension
from django.db import migrations, models

# As in Contact.Meta (copied: a migration must not change when the model does).
LIVE_LIST_INDEXES = {
    "contact_live_created_idx": ["-created_at", "-id"],
    "contact_live_updated_idx": ["-updated_at", "-id"],
    "contact_live_last_name_idx": ["last_name", "id"],
    "contact_live_email_idx": ["email", "id"],
    "contact_live_status_idx": ["status", "-created_at"],
    "contact_live_country_idx": ["country", "-created_at"],
}
ATTRIBUTES_GIN = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS contact_live_attributes_gin ON contacts_contact "
    "USING gin (tenant_id, attributes jsonb_path_ops) WHERE deleted_at IS NULL"
)


def _indexes():
    return [
        models.Index(fields=["tenant", *keys], condition=models.Q(deleted_at__isnull=True), name=name)
        for name, keys in LIVE_LIST_INDEXES.items()
    ]


def create(apps, schema_editor):
    model = apps.get_model("contacts", "Contact")
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        existing = set(connection.introspection.get_constraints(cursor, model._meta.db_table))
    postgres = connection.vendor == "postgresql"
    for index in _indexes():
        if index.name not in existing:
            if postgres:
                schema_editor.add_index(model, index, concurrently=True)
            else:
                schema_editor.add_index(model, index)
    if postgres:
        schema_editor.execute(ATTRIBUTES_GIN)


def drop(apps, schema_editor):
    model = apps.get_model("contacts", "Contact")
    postgres = schema_editor.connection.vendor == "postgresql"
    for index in _indexes():
        if postgres:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {index.name}")
        else:
            schema_editor.remove_index(model, index)
    if postgres:
        schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS contact_live_attributes_gin")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts", "0005_duplicates_and_merges"),
        ("contacts_service", "0001_initial"),
    ]

    operations = [
        BtreeGinExtension(),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.AddIndex(model_name="contact", index=index) for index in _indexes()],
            database_operations=[migrations.RunPython(create, drop)],
        ),
    ]

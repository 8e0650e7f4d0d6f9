"""History rows: one index by contact, (contact_id, changed_at DESC, id DESC), instead of two.

It serves the history of a contact in the order the API pages it (a contact id belongs to one
tenant, so tenant_id need not lead) and the foreign key to the contact, and replaces
change_contact_idx (tenant_id, contact_id, changed_at DESC) and Django's index on contact_id: an
import writes about a dozen history rows per new contact, each an entry in every index.

Safe on big tables (PostgreSQL): the new index is built CONCURRENTLY before the old ones are
dropped CONCURRENTLY (the migration is not atomic); an index of the new name that exists already
(built by hand first) is kept. Other databases take the plain operations.
"""

from django.db import migrations, models

NEW = "change_contact_time_idx"
CREATE = (
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NEW} "
    "ON contacts_contactchange (contact_id, changed_at DESC, id DESC)"
)


def _contact_id_indexes(connection):
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, "contacts_contactchange")
    return [n for n, c in constraints.items() if c["index"] and not c["unique"] and c["columns"] == ["contact_id"]]


def forwards(apps, schema_editor):
    connection = schema_editor.connection
    model = apps.get_model("contacts", "ContactChange")
    if connection.vendor != "postgresql":
        schema_editor.add_index(model, models.Index(fields=["contact", "-changed_at", "-id"], name=NEW))
        schema_editor.remove_index(
            model, models.Index(fields=["tenant", "contact", "-changed_at"], name="change_contact_idx")
        )
        return
    schema_editor.execute(CREATE)
    schema_editor.execute("DROP INDEX CONCURRENTLY IF EXISTS change_contact_idx")
    for name in _contact_id_indexes(connection):
        schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{name}"')


def backwards(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS change_contact_idx "
        "ON contacts_contactchange (tenant_id, contact_id, changed_at DESC)"
    )
    if not _contact_id_indexes(connection):
        schema_editor.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS contacts_contactchange_contact_id_1f972f28 "
            "ON contacts_contactchange (contact_id)"
        )
    schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NEW}")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts", "0009_history_tenant_unindexed")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forwards, backwards)],
            state_operations=[
                migrations.AlterField(
                    model_name="contactchange",
                    name="contact",
                    field=models.ForeignKey(
                        db_index=False, on_delete=models.deletion.CASCADE, related_name="changes",
                        to="contacts.contact",
                    ),
                ),
                migrations.RemoveIndex(model_name="contactchange", name="change_contact_idx"),
                migrations.AddIndex(
                    model_name="contactchange",
                    index=models.Index(fields=["contact", "-changed_at", "-id"], name=NEW),
                ),
            ],
        )
    ]

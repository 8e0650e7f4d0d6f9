"""History rows (contacts_contactchange): no index on tenant_id alone and no foreign key constraint on it.

Its index by contact (change_contact_idx) starts with tenant_id (so the one on tenant_id alone served
nothing it does not), and the deferred constraint was checked row by row at commit: an import writes
about a dozen history rows per new contact, each checked twice (contact, tenant); the contact one stays.

How, safely on big tables: contacts_service.migration_ops.drop_tenant_index_and_fk.
"""

from django.db import migrations

from contacts_service.migration_ops import drop_tenant_index_and_fk, unconstrained_tenant


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts_service", "0002_tenant_plan"),
        ("contacts", "0008_search_document"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[drop_tenant_index_and_fk("contacts_contactchange")],
            state_operations=[
                migrations.AlterField(model_name="contactchange", name="tenant", field=unconstrained_tenant()),
            ],
        )
    ]

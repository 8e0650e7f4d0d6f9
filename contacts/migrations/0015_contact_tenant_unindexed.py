"""contacts_contact loses its index on tenant_id alone; the foreign key constraint stays.

The table's tenant-led indexes (contact_created_idx, the live list indexes, the unique ones) give the
planner other ways to read one tenant's contacts, and each insert or key update paid this index too. It
also misled the planner on a tenant that grows faster than its statistics (a new tenant's first
import): estimating a handful of rows for the tenant, it read all of them through this index and
filtered, rather than look up the batch's 500 emails or external ids in their unique indexes; each lookup of an import batch took 20-50 ms
instead of under 1 ms once the tenant had 95,000 contacts, and grew with it (bench/imports.py).

How, safely on big tables: contacts_service.migration_ops.drop_tenant_index (CONCURRENTLY, so the
migration is not atomic); backwards builds it again the same way.
"""

import django.db.models.deletion
from django.db import migrations, models

from contacts_service.migration_ops import drop_tenant_index


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts_service", "0002_tenant_plan"),
        ("contacts", "0014_drop_redundant_contact_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[drop_tenant_index("contacts_contact")],
            state_operations=[
                migrations.AlterField(
                    model_name="contact",
                    name="tenant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="contacts_service.tenant",
                    ),
                )
            ],
        )
    ]

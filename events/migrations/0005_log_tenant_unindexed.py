"""Timeline and outbox rows: no index on tenant_id alone and no foreign key constraint on it.

Every other index of both tables starts with tenant_id (so the one on tenant_id alone served
nothing they do not), and the deferred constraint was checked row by row at commit: a bulk tag of
20,000 contacts wrote and checked 40,000 of each for these two tables (events.models.log_tenant).

How, safely on big tables: contacts_service.migration_ops.drop_tenant_index_and_fk.
"""

from django.db import migrations

from contacts_service.migration_ops import drop_tenant_index_and_fk, unconstrained_tenant


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("contacts_service", "0002_tenant_plan"),
        ("events", "0004_activities"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[drop_tenant_index_and_fk("events_timelineentry", "events_outboxevent")],
            state_operations=[
                migrations.AlterField(model_name="outboxevent", name="tenant", field=unconstrained_tenant()),
                migrations.AlterField(model_name="timelineentry", name="tenant", field=unconstrained_tenant()),
            ],
        )
    ]

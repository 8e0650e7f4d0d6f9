"""List memberships: two indexes and one constraint fewer, each paid by every membership written.

- The index on tenant_id alone: the unique (tenant_id, contact_list_id, contact_id) starts with it.
- list_membership_contact_idx (tenant_id, contact_id): the index on contact_id alone (the contact's
  foreign key, which Django's cascades need anyway) finds a contact's memberships; a contact belongs
  to one tenant, whose condition every query keeps, checked on the rows.
- The foreign key constraint on tenant_id, checked row by row at commit: memberships are written only
  by services holding the Tenant, and deleting a tenant still deletes them (Django cascades), as for
  the log tables (events.models.log_tenant).

A list add of 100,000 contacts took ~10% less time (bench/bulk_links.py --history 6 --links). How,
safely on big tables: contacts_service.migration_ops (CONCURRENTLY, the migration is not atomic; the
constraint drop gives up after lock_timeout).
"""

from django.db import migrations

from contacts_service.migration_ops import drop_index_concurrently, drop_tenant_index_and_fk, unconstrained_tenant


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("contacts_service", "0002_tenant_plan"), ("lists", "0002_list_sharing")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                drop_tenant_index_and_fk("lists_listmembership"),
                drop_index_concurrently(
                    "list_membership_contact_idx", "lists_listmembership", "tenant_id, contact_id"
                ),
            ],
            state_operations=[
                migrations.AlterField(model_name="listmembership", name="tenant", field=unconstrained_tenant()),
                migrations.RemoveIndex(model_name="listmembership", name="list_membership_contact_idx"),
            ],
        )
    ]

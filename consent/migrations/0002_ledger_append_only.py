"""The consent ledger is append-only in the database too: a trigger refuses UPDATE always and
DELETE unless the transaction erasing a contact (GDPR) set `contacts_service.erasing` to on.
Existing tenants get the default purposes."""

from django.db import migrations

TRIGGER = """
CREATE OR REPLACE FUNCTION consent_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('contacts_service.erasing', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'consent ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER consent_ledger_append_only
    BEFORE UPDATE OR DELETE ON consent_consentrecord
    FOR EACH ROW EXECUTE FUNCTION consent_ledger_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS consent_ledger_append_only ON consent_consentrecord;
DROP FUNCTION IF EXISTS consent_ledger_append_only();
"""


def add_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER, params=None)


def drop_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


def default_purposes(apps, schema_editor):
    from consent.models import DEFAULT_PURPOSES

    Tenant = apps.get_model("contacts_service", "Tenant")
    Purpose = apps.get_model("consent", "ConsentPurpose")
    Purpose.objects.bulk_create(
        [
            Purpose(tenant_id=tenant_id, key=key, label=label, description=description)
            for tenant_id in Tenant.objects.values_list("pk", flat=True)
            for key, label, description in DEFAULT_PURPOSES
        ],
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):
    dependencies = [("consent", "0001_initial")]

    operations = [
        migrations.RunPython(add_trigger, drop_trigger),
        migrations.RunPython(default_purposes, migrations.RunPython.noop),
    ]

"""Undoing a contact merge deletes the consent ledger entries that merge appended to the primary.

The trigger still refuses UPDATE always, and DELETE unless the transaction either erases a
contact (GDPR, `contacts_service.erasing` = on) or undoes a merge: `contacts_service.undoing_merge`
holds that merge's id, and only rows the merge wrote pass (source "merge" and proof.merge_id equal
to it). The undo deletes exactly the ids its merge recorded; the trigger makes sure no other row
can go the same way.
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION consent_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('contacts_service.erasing', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'DELETE' AND OLD.source = 'merge'
        AND coalesce(current_setting('contacts_service.undoing_merge', true), '') <> ''
        AND OLD.proof ->> 'merge_id' = current_setting('contacts_service.undoing_merge', true) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'consent ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""
PREVIOUS = """
CREATE OR REPLACE FUNCTION consent_ledger_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('contacts_service.erasing', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'consent ledger is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""


def replace(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION, params=None)


def restore(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PREVIOUS, params=None)


class Migration(migrations.Migration):
    dependencies = [("consent", "0002_ledger_append_only")]

    operations = [migrations.RunPython(replace, restore)]

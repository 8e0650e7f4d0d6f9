"""Every table that can point at a contact is a registered personal-data source."""

from django.apps import apps
from django.db import models

from contacts import gdpr
from contacts.models import Contact


def contact_columns() -> set[tuple[str, str]]:
    """(model label, field name) of every field that holds a contact id: a ForeignKey (or one-to-one)
    to Contact, or any field called contact_id."""
    found = set()
    for model in apps.get_models(include_auto_created=True):
        for field in model._meta.concrete_fields:
            points_at_contact = isinstance(field, models.ForeignKey) and field.related_model is Contact
            if points_at_contact or "contact_id" in {field.name, field.attname, field.column}:
                found.add((model._meta.label_lower, field.name))
    return found


def erased_columns() -> set[tuple[str, str]]:
    """Columns erase clears, and those of views registered as sources (unmanaged models such as
    contacts.ContactChangeEntry: their rows are another registered table's, gone with it)."""
    erased = set()
    for source in gdpr.personal_data_sources():
        if source.erase or not source.model_class()._meta.managed:
            model = source.model_class()
            erased.add((model._meta.label_lower, model._meta.get_field(source.contact_field).name))
    return erased


def test_every_table_referencing_a_contact_is_erased():
    referencing = contact_columns()
    # The scan itself finds what it should (it would find a new table the same way).
    assert {
        ("contacts.contactidentifier", "contact"),
        ("contacts.contactchange", "contact"),
        ("tags.tagassignment", "contact"),
        ("lists.listmembership", "contact"),
        ("events.timelineentry", "contact_id"),
        ("contacts.erasuretombstone", "contact_id"),
    } <= referencing
    kept = {(label, field) for label, field in referencing if label in gdpr.KEPT_AFTER_ERASURE}
    missing = referencing - kept - erased_columns()
    assert not missing, (
        f"Tables holding a contact id that GDPR erase would leave behind: {sorted(missing)}. "
        "Register them with contacts.gdpr.register_personal_data()."
    )


def test_tables_found_by_other_columns_are_registered_too():
    erased = erased_columns()
    assert ("contacts.contact", "id") in erased
    assert ("events.outboxevent", "aggregate_id") in erased
    assert ("admin.logentry", "object_id") in erased
    exported = {s.key for s in gdpr.personal_data_sources() if s.key}
    assert {"contact", "attributes", "identifiers", "tags", "lists", "timeline", "history"} <= exported

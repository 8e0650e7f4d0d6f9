"""Deleting an attribute definition while a segment naming it is being created."""

import threading

import pytest

from contacts.models import AttributeDefinition
from contacts.services import attributes as attribute_services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from lists import services as list_services
from lists.models import ContactList
from tests.races.helpers import run_together


@pytest.mark.django_db(transaction=True)
def test_segment_created_while_its_attribute_is_deleted(tenant):
    """Deleting a definition is refused (409) while a segment names the attribute; a segment created
    meanwhile holds the definition its rules name (FOR SHARE), so one of the two waits for the other:
    never a segment naming an attribute that no longer exists."""
    definition = AttributeDefinition.objects.unscoped().create(
        tenant=tenant, key="plan", label="Plan", type="string"
    )
    checked = threading.Event()
    created = threading.Event()
    original_delete = AttributeDefinition.delete

    def slow_delete(self, *args, **kwargs):
        checked.set()  # the segments check is done
        created.wait(10)
        return original_delete(self, *args, **kwargs)

    def delete():
        with tenant_context(tenant):
            attribute_services.attribute_definition_delete(tenant=tenant, definition_id=definition.pk)

    def create():
        assert checked.wait(10)
        with tenant_context(tenant):
            rules = {"operator": "and", "rules": [{"field": "attributes.plan", "op": "eq", "value": "gold"}]}
            try:
                list_services.list_create(
                    tenant=tenant, actor=SYSTEM_ACTOR, name="Gold", kind="dynamic", rules=rules
                )
            finally:
                created.set()

    AttributeDefinition.delete = slow_delete
    try:
        _results, errors = run_together(delete, create)
    finally:
        AttributeDefinition.delete = original_delete
    segment_exists = ContactList.objects.unscoped().filter(name="Gold").exists()
    definition_exists = AttributeDefinition.objects.unscoped().filter(pk=definition.pk).exists()
    # Either the segment was refused/waited, or the delete was refused: never both committed.
    assert definition_exists or not segment_exists, (errors,)

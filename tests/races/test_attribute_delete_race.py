"""An attribute definition deleted while a contact write sets a value of it."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts.models import AttributeDefinition, Contact
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from tests.races.helpers import run_together


@pytest.mark.django_db(transaction=True)
def test_deleting_an_attribute_while_a_contact_gets_a_value_of_it_is_refused(client_for, tenant):
    """A PATCH setting attributes.plan holds the definition (FOR SHARE) until it commits: the DELETE
    of the definition waits for it, then counts the value and is refused (409 in_use), as when the
    PATCH came first; the value can be cleared."""
    definition = AttributeDefinition.objects.unscoped().create(
        tenant=tenant, key="plan", label="Plan", type="string"
    )
    with tenant_context(tenant):
        ann = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com"})
    client = client_for(tenant, Role.OWNER)
    written = threading.Event()

    def patch():
        with tenant_context(tenant), transaction.atomic():
            services.contact_update(
                tenant=tenant, actor=SYSTEM_ACTOR, contact_id=ann.pk, data={"attributes": {"plan": "gold"}}
            )
            written.set()
            time.sleep(1)  # the rest of the request (segments, duplicates) before its commit

    def delete():
        assert written.wait(10)
        return client.delete(f"/api/v1/attribute-definitions/{definition.pk}/").status_code

    results, errors = run_together(patch, delete)
    assert errors == [], errors
    attributes = Contact.objects.unscoped().get(pk=ann.pk).attributes
    definition_exists = AttributeDefinition.objects.unscoped().filter(pk=definition.pk).exists()
    clear = client.patch(f"/api/v1/contacts/{ann.pk}/", {"attributes": {"plan": None}}, format="json")
    assert definition_exists or "plan" not in attributes, (
        results,
        attributes,
        clear.status_code,
        clear.json(),
    )
    assert results[1] == 409, results

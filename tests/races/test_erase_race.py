"""GDPR erase racing set-based changes (bulk tag, list members by filter) of the same contact."""

import threading
import time

import pytest
from django.db import transaction

from contacts.gdpr import contact_erase
from contacts.models import Contact
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from tags.models import Tag, TagAssignment
from tests.factories import ContactFactory

from .helpers import run_together


@pytest.mark.django_db(transaction=True)
def test_a_bulk_tag_by_filter_while_one_of_its_contacts_is_erased_is_not_a_500(client_for, tenant):
    """The bulk statement inserts its links (the contact's FK is checked at commit), then waits for the
    erasing transaction's row lock to bump the contact's sequence; the erasure deletes the contact and
    commits; the bulk's commit then fails on the foreign key of the link it inserted for it."""
    contacts = [ContactFactory(tenant=tenant, country="FR") for _ in range(3)]
    erased = contacts[1]
    tag = Tag.objects.unscoped().create(tenant=tenant, name="VIP")
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def erase():
        with tenant_context(tenant), transaction.atomic():
            # contact_erase's first step; the erasure's own work (every source's rows) takes this long
            list(Contact.objects.for_tenant(tenant).select_for_update().filter(pk=erased.pk))
            locked.set()
            time.sleep(1)
            contact_erase(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=erased.pk)

    def bulk():
        assert locked.wait(10)
        response = client.post(f"/api/v1/tags/{tag.pk}/apply/", {"filter": {"country": "FR"}}, format="json")
        return response.status_code, response.json()

    results, errors = run_together(erase, bulk)
    assert errors == [], errors
    assert results[1] == (200, {"changed": 2})
    assert not Contact.objects.unscoped().filter(pk=erased.pk).exists()
    assert TagAssignment.objects.unscoped().filter(tag=tag).count() == 2

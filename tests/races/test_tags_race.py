"""Concurrent tagging."""

import threading
import time

import pytest
from django.db import transaction

from contacts.models import Contact
from contacts.services.links import contacts_lock
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from tags.models import Tag, TagAssignment
from tags.services import contact_tag, tag_bulk
from tests.factories import ContactFactory

from .helpers import run_together


def _tag(client, contact, names):
    def go():
        return client.post(f"/api/v1/contacts/{contact.pk}/tags/", {"tags": names}, format="json").status_code

    return go


@pytest.mark.django_db(transaction=True)
def test_two_contacts_tagged_with_the_same_new_names_in_another_order_do_not_deadlock(client_for, tenant):
    ann, bob = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    c1, c2 = client_for(tenant, Role.OWNER), client_for(tenant, Role.OWNER)
    for round_ in range(5):
        names = [f"t{round_}-{n}" for n in range(10)]
        results, errors = run_together(_tag(c1, ann, names), _tag(c2, bob, names[::-1]))
        assert errors == [], (round_, errors)
        assert results == [200, 200], (round_, results)
    assert Tag.objects.unscoped().filter(tenant=tenant).count() == 50
    assert TagAssignment.objects.unscoped().filter(tenant=tenant).count() == 100


@pytest.mark.django_db(transaction=True)
def test_tagging_one_contact_while_a_bulk_tag_covers_it_does_not_deadlock(tenant):
    """contact_tag locks the contact, then inserts the link; the bulk statement inserts every link,
    then bumps each contact's sequence (locking it). A contact_tag that took its lock after the bulk
    statement started and inserts its link after the bulk inserted that contact's link deadlocks."""
    contacts = [ContactFactory(tenant=tenant) for _ in range(3)]
    tag = Tag.objects.unscoped().create(tenant=tenant, name="VIP")
    first = min(c.pk for c in contacts)
    locked = threading.Event()

    def one():
        with tenant_context(tenant), transaction.atomic():
            contacts_lock(tenant=tenant, contact_ids=[first])  # contact_tag's first step
            locked.set()
            time.sleep(1)  # the bulk statement inserts its links, then waits for this contact
            contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=first, names=["VIP"])

    def bulk():
        assert locked.wait(10)
        with tenant_context(tenant):
            selection = Contact.objects.for_tenant(tenant).all()
            return tag_bulk(tenant=tenant, actor=SYSTEM_ACTOR, tag_id=tag.pk, selection=selection)

    _, errors = run_together(one, bulk)
    assert errors == [], errors
    assert TagAssignment.objects.unscoped().filter(tag=tag).count() == 3

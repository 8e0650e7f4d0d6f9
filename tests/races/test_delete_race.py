"""A tag or list deleted while a request links contacts to it."""

import threading
import time

import pytest
from django.db import transaction

from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from lists.models import ContactList
from lists.services import list_create, list_delete
from tags.models import Tag
from tags.services import tag_delete
from tests.factories import ContactFactory

from .helpers import run_together


@pytest.mark.django_db(transaction=True)
def test_tagging_a_contact_with_a_tag_being_deleted_is_not_a_500(client_for, tenant):
    """tag_delete holds the tag's row lock while it untags its contacts; contact_tag found the tag
    (unlocked read), linked the contact to it, and its commit's FK check waits for that lock, then
    fails: the tag is gone."""
    ann = ContactFactory(tenant=tenant)
    tag = Tag.objects.unscoped().create(tenant=tenant, name="VIP")
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def delete():
        with tenant_context(tenant), transaction.atomic():
            list(Tag.objects.for_tenant(tenant).select_for_update().filter(pk=tag.pk))  # tag_delete's lock
            locked.set()
            time.sleep(1)  # untagging a large tag's contacts takes this long
            tag_delete(tenant=tenant, actor=SYSTEM_ACTOR, tag_id=tag.pk)

    def tag_one():
        assert locked.wait(10)
        response = client.post(f"/api/v1/contacts/{ann.pk}/tags/", {"tags": ["VIP"]}, format="json")
        return response.status_code

    results, errors = run_together(delete, tag_one)
    assert errors == [], errors
    assert results[1] in (200, 404), results


@pytest.mark.django_db(transaction=True)
def test_adding_contacts_to_a_list_being_deleted_is_not_a_500(client_for, tenant):
    contacts = [ContactFactory(tenant=tenant) for _ in range(3)]
    with tenant_context(tenant):
        target = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Newsletter")
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def delete():
        with tenant_context(tenant), transaction.atomic():
            list(ContactList.objects.for_tenant(tenant).select_for_update().filter(pk=target.pk))
            locked.set()
            time.sleep(1)  # removing a large list's members takes this long
            list_delete(tenant=tenant, actor=SYSTEM_ACTOR, list_id=target.pk)

    def add():
        assert locked.wait(10)
        body = {"contact_ids": [str(c.pk) for c in contacts]}
        return client.post(f"/api/v1/lists/{target.pk}/contacts/", body, format="json").status_code

    results, errors = run_together(delete, add)
    assert errors == [], errors
    assert results[1] in (200, 404), results

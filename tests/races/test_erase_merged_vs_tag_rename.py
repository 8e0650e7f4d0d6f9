"""Erasing a contact that has a contact merged into it while a tag is renamed: the segments naming
either are held in one id order before any contact (held per contact, the primary's first, they
deadlocked with the rename, which locks every segment in id order). Found by a review."""

import threading
import time

import pytest

from contacts import gdpr, services
from contacts.models import Contact
from contacts.services.merges import contact_merge
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from lists.models import ListKind
from lists.services import list_create
from tags import services as tag_services
from tests.races.helpers import backend_pid, call, deadlock_in, post, run_together, wait_until_blocked

BOBS = {"operator": "and", "rules": [{"field": "external_id", "op": "eq", "value": "B-1"}]}
ANNS = {"operator": "and", "rules": [{"field": "email", "op": "eq", "value": "ann@example.com"}]}


@pytest.mark.django_db(transaction=True)
def test_erasing_a_primary_with_a_merged_contact_while_a_tag_is_renamed(client_for, tenant, monkeypatch):
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "external_id": "A-1"}
        )
        bob = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "bob@example.com", "external_id": "B-1"}
        )
        contact_merge(tenant=tenant, actor=SYSTEM_ACTOR, primary_id=ann.pk, other_ids=[bob.pk])
        # Bob's segment first: the lower id, locked first by every path locking segments in id order.
        seg_bob = list_create(
            tenant=tenant, actor=SYSTEM_ACTOR, name="Bob", kind=ListKind.DYNAMIC, rules=BOBS
        )
        seg_ann = list_create(
            tenant=tenant, actor=SYSTEM_ACTOR, name="Ann", kind=ListKind.DYNAMIC, rules=ANNS
        )
        tag = tag_services.tag_create(tenant=tenant, name="VIP")
    assert seg_bob.pk < seg_ann.pk
    client = client_for(tenant, Role.OWNER)
    holding = threading.Event()
    pids: dict = {}
    original = gdpr._erased_keys
    calls = []

    def paused_erased_keys(tenant_, contact):
        calls.append(contact.pk)
        if len(calls) == 3:  # past the holds: the erasure of the merged contact, first, begins
            holding.set()
            wait_until_blocked(pids, "rename")
            time.sleep(0.3)
        return original(tenant_, contact)

    monkeypatch.setattr(gdpr, "_erased_keys", paused_erased_keys)

    def erase():
        return post(client, f"/api/v1/contacts/{ann.pk}/erase/")

    def rename():
        assert holding.wait(10)
        pids["rename"] = backend_pid()
        with tenant_context(tenant):
            return call(
                lambda: tag_services.tag_update(tenant=tenant, tag_id=tag.pk, changes={"name": "Gold"})
            )

    results, errors = run_together(erase, rename)
    assert errors == [], errors
    assert deadlock_in(results, errors) == [], results
    assert results[0][0] == 200, results
    assert not Contact.objects.unscoped().filter(pk=ann.pk).exists()

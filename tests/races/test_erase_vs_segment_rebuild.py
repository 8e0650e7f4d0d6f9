"""Erasing a contact while a segment whose rules name its email is rebuilt."""

import threading
import time

import pytest

from contacts import gdpr, services
from contacts.models import Contact
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from lists.dynamic import segment_rebuild
from lists.models import ContactList, ListKind
from lists.services import list_create
from tests.races.helpers import backend_pid, call, deadlock_in, post, run_together, wait_until_blocked

ANN = {"operator": "and", "rules": [{"field": "email", "op": "eq", "value": "ann@example.com"}]}


@pytest.mark.django_db(transaction=True)
def test_erasing_a_contact_while_a_segment_naming_her_email_is_rebuilt(client_for, tenant, monkeypatch):
    """The erasure locks the segments whose rules name the contact's values (NO KEY UPDATE, id order)
    before the contact, as a rebuild locks its segment, then its contacts: a rebuild meanwhile waits for
    the erasure, then runs the scrubbed rules. (The erasure locked the contact first and then updated
    the segment's rules: a deadlock, a 500 to one of them.)"""
    with tenant_context(tenant):
        ann = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com"})
        segment = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Ann", kind=ListKind.DYNAMIC, rules=ANN)
    client = client_for(tenant, Role.OWNER)
    holding = threading.Event()
    pids: dict = {}
    original = gdpr._erased_keys

    calls = []

    def paused_erased_keys(tenant_, contact):
        calls.append(contact.pk)
        if len(calls) == 2:  # the second read runs after Ann is locked, before the erasure steps
            holding.set()
            wait_until_blocked(pids, "rebuild")
            time.sleep(1.3)  # past the rebuild's deadlock check: the erasure would close a cycle
        return original(tenant_, contact)

    monkeypatch.setattr(gdpr, "_erased_keys", paused_erased_keys)

    def erase():
        return post(client, f"/api/v1/contacts/{ann.pk}/erase/")

    def rebuild():
        assert holding.wait(10)
        pids["rebuild"] = backend_pid()
        with tenant_context(tenant):
            return call(lambda: segment_rebuild(tenant=tenant, list_id=segment.pk))

    results, errors = run_together(erase, rebuild)
    assert errors == [], errors
    assert deadlock_in(results, errors) == [], results
    assert results[0][0] == 200, results
    assert not Contact.objects.unscoped().filter(pk=ann.pk).exists()
    assert ContactList.objects.unscoped().get(pk=segment.pk).rules != ANN

"""A contact write's inline segment refresh runs the rules a segment has once it is locked."""

import threading

import pytest

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from lists import dynamic
from lists import services as list_services
from lists.models import ListMembership
from tests.races.helpers import run_together


def _rules(name):
    return {"operator": "and", "rules": [{"field": "first_name", "op": "eq", "value": name}]}


@pytest.mark.django_db(transaction=True)
def test_inline_refresh_applies_rules_changed_and_committed_meanwhile(tenant, monkeypatch):
    """A contact write reads the tenant's segments, then locks each (SKIP) and reads its rules again: a
    rules change that commits between the two (its rebuild saw the contact before the write) is what
    runs, so the contact is not linked under the old rules to a segment it does not match."""
    with tenant_context(tenant):
        ann = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "a@example.com"})
        segment = list_services.list_create(
            tenant=tenant, actor=SYSTEM_ACTOR, name="Anns", kind="dynamic", rules=_rules("Ann")
        )
    read = threading.Event()
    changed = threading.Event()
    original = dynamic.target_lock

    def target_lock(*args, **kwargs):
        if not read.is_set():
            read.set()  # the segments and their rules were read, the segment not locked yet
            assert changed.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(dynamic, "target_lock", target_lock)

    def write():
        with tenant_context(tenant):
            services.contact_update(
                tenant=tenant, actor=SYSTEM_ACTOR, contact_id=ann.pk, data={"first_name": "Ann"}
            )

    def change_rules():
        assert read.wait(10)
        try:
            with tenant_context(tenant):
                list_services.list_update(
                    tenant=tenant, actor=SYSTEM_ACTOR, list_id=segment.pk, changes={"rules": _rules("Zed")}
                )
        finally:
            changed.set()

    _, errors = run_together(write, change_rules)
    assert errors == [], errors
    member = ListMembership.objects.unscoped().filter(contact_list_id=segment.pk, contact_id=ann.pk).exists()
    assert not member, "Ann is a member of a segment whose rules are first_name eq Zed"

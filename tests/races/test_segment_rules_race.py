"""A segment's rules changed (or the segment created) while a contact changes to match them."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from lists.models import ListKind, ListMembership
from lists.services import list_create, list_update
from tests.races.helpers import assert_sequences_gap_free, run_together


def _city(name):
    return {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": name}]}


def _move_to_lyon(tenant, ann, rebuilt):
    def update():
        assert rebuilt.wait(10)
        with tenant_context(tenant):
            services.contact_update(
                tenant=tenant, actor=SYSTEM_ACTOR, contact_id=ann.pk, data={"city": "Lyon"}
            )

    return update


@pytest.mark.django_db(transaction=True)
def test_a_contact_entering_a_segment_whose_rules_are_being_changed_becomes_a_member(tenant):
    """Ann moves to Lyon while the segment's rules change to city = Lyon (its rebuild, holding the
    segment, ran on her old city): her request leaves the segment to a task after its commit, which
    waits for the rules change and runs the new rules: Ann is a member."""
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": "Berlin"}
        )
        segment = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Locals", kind=ListKind.DYNAMIC,
                              rules=_city("Paris"))  # fmt: skip
    rebuilt = threading.Event()

    def change_rules():
        with tenant_context(tenant), transaction.atomic():
            list_update(
                tenant=tenant, actor=SYSTEM_ACTOR, list_id=segment.pk, changes={"rules": _city("Lyon")}
            )
            rebuilt.set()
            time.sleep(1)  # the request's remaining work / commit

    _, errors = run_together(change_rules, _move_to_lyon(tenant, ann, rebuilt))
    assert errors == [], errors
    assert ListMembership.objects.unscoped().filter(contact_list=segment, contact=ann).exists()
    assert_sequences_gap_free([ann.pk])


@pytest.mark.django_db(transaction=True)
def test_a_contact_matching_a_segment_being_created_becomes_a_member(tenant):
    """A contact changed to match while a segment is created (its fill read her before; her write
    could not see the segment): the catch-up right after the creation commits (segment_fill) refreshes
    the contacts changed meanwhile, so she is a member."""
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": "Berlin"}
        )
    rebuilt = threading.Event()
    created = {}

    def create():
        with tenant_context(tenant), transaction.atomic():
            created["segment"] = list_create(
                tenant=tenant, actor=SYSTEM_ACTOR, name="Lyonnais", kind=ListKind.DYNAMIC, rules=_city("Lyon")
            )
            rebuilt.set()
            time.sleep(1)

    _, errors = run_together(create, _move_to_lyon(tenant, ann, rebuilt))
    assert errors == [], errors
    assert ListMembership.objects.unscoped().filter(contact_list=created["segment"], contact=ann).exists()
    assert_sequences_gap_free([ann.pk])

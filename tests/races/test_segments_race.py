"""Dynamic segment rebuild racing contact changes."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from lists.dynamic import segment_rebuild
from lists.models import ListKind, ListMembership
from lists.services import list_create

from .helpers import assert_sequences_gap_free, run_together

PARIS = {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Paris"}]}


@pytest.mark.django_db(transaction=True)
def test_a_contact_leaving_a_segment_while_it_is_rebuilt_is_not_left_a_member(tenant):
    """The update unlinks the contact (inline refresh) and commits while the rebuild's link statement,
    which read the contact's old city, waits on that unlinked row: the rebuild then links it again."""
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": "Paris"}
        )
        segment = list_create(
            tenant=tenant, actor=SYSTEM_ACTOR, name="Parisians", kind=ListKind.DYNAMIC, rules=PARIS
        )
    assert ListMembership.objects.unscoped().filter(contact_list=segment, contact=ann).exists()
    updated = threading.Event()

    def update():
        with tenant_context(tenant), transaction.atomic():
            services.contact_update(
                tenant=tenant, actor=SYSTEM_ACTOR, contact_id=ann.pk, data={"city": "Lyon"}
            )
            updated.set()
            time.sleep(1)  # the rebuild starts meanwhile (a task after a bulk tag, the periodic one)

    def rebuild():
        assert updated.wait(10)
        time.sleep(0.3)
        with tenant_context(tenant):
            return segment_rebuild(tenant=tenant, list_id=segment.pk)

    _, errors = run_together(update, rebuild)
    assert errors == []
    # Ann lives in Lyon: she must not be a member of the Paris segment
    assert not ListMembership.objects.unscoped().filter(contact_list=segment, contact=ann).exists()
    assert_sequences_gap_free([ann.pk])

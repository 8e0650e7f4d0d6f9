"""A merge undo racing the GDPR erasure of the merge's primary."""

import threading

import pytest

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from tests.races.helpers import run_together, undo_holding_locks


@pytest.mark.django_db(transaction=True)
def test_undoing_a_merge_while_its_primary_is_erased_is_not_a_500(client_for, tenant):
    """The erasure of a merge's primary locks the merges the contact took part in before the contacts,
    as merge_undo does: an undo racing it ends first (or is refused), the erasure is done, no 500."""
    with tenant_context(tenant):
        a = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "a@example.com"})
        b = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "b@example.com"})
        merge = services.contact_merge(
            tenant=tenant, actor=SYSTEM_ACTOR, primary_id=a.pk, other_ids=[b.pk]
        ).merge
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def erase():
        assert locked.wait(10)
        return client.post(f"/api/v1/contacts/{a.pk}/erase/", {}, format="json").status_code

    results, errors = run_together(undo_holding_locks(tenant, merge, locked, contacts=False), erase)
    assert errors == [], errors  # an exception here is a 500 (deadlock detected)
    assert results[1] in (200, 201, 202, 204), results

"""A merge undo putting a tag back on the merged contact while the tag is being deleted."""

import threading

import pytest

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from tags.models import Tag, TagAssignment
from tags.services import contact_tag
from tests.races.helpers import assert_sequences_gap_free, run_together, undo_holding_locks


@pytest.mark.django_db(transaction=True)
def test_undoing_a_merge_while_a_tag_it_brings_back_is_deleted_is_not_a_500(client_for, tenant):
    """B had tag VIP and was merged into A; the undo (holding the merge and both contacts) puts VIP back
    on B while DELETE /tags/VIP runs: both answer (no deadlock, no 500), and no assignment of the deleted
    tag is left."""
    with tenant_context(tenant):
        a = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "a@example.com"})
        b = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "b@example.com"})
        contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=b.pk, names=["VIP"])
        merge = services.contact_merge(
            tenant=tenant, actor=SYSTEM_ACTOR, primary_id=a.pk, other_ids=[b.pk]
        ).merge
    tag = Tag.objects.unscoped().get(tenant=tenant, name="VIP")
    assert TagAssignment.objects.unscoped().filter(tag=tag, contact=a).exists()
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def delete():
        assert locked.wait(10)
        return client.delete(f"/api/v1/tags/{tag.pk}/").status_code

    results, errors = run_together(undo_holding_locks(tenant, merge, locked), delete)
    assert errors == [], errors  # an exception here is a 500 (deadlock detected)
    assert results[1] in (204, 404), results
    assert not Tag.objects.unscoped().filter(pk=tag.pk).exists()
    assert_sequences_gap_free([a.pk, b.pk])

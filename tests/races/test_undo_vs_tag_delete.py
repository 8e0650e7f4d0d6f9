"""A merge undo putting a tag back on the merged contact while the tag is being deleted."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts.models import Contact, Merge
from contacts.services.merge_undo import merge_undo
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.errors import ServiceError
from contacts_service.roles import Role
from tags.models import Tag, TagAssignment
from tags.services import contact_tag
from tests.races.helpers import assert_sequences_gap_free, run_together


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

    def undo():
        with tenant_context(tenant), transaction.atomic():
            # merge_undo's first steps: the merge, then its contacts in id order
            list(Merge.objects.for_tenant(tenant).select_for_update().filter(pk=merge.pk))
            ids = sorted([a.pk, b.pk])
            list(Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=ids).order_by("pk"))
            locked.set()
            time.sleep(1)  # the tag deletion starts meanwhile and waits on A
            try:
                merge_undo(tenant=tenant, actor=SYSTEM_ACTOR, merge_id=merge.pk)
            except ServiceError as exc:  # a 409/404 is an acceptable answer
                return exc.status_code
        return 200

    def delete():
        assert locked.wait(10)
        return client.delete(f"/api/v1/tags/{tag.pk}/").status_code

    results, errors = run_together(undo, delete)
    assert errors == [], errors  # an exception here is a 500 (deadlock detected)
    assert results[1] in (204, 404), results
    assert not Tag.objects.unscoped().filter(pk=tag.pk).exists()
    assert_sequences_gap_free([a.pk, b.pk])

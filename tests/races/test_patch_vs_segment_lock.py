"""A contact PATCH (its inline segment refresh key-share-locks each segment: contacts_link.target_lock)
while a dynamic segment is held by its deletion (FOR NO KEY UPDATE), a rules change or a rebuild (FOR
UPDATE): the PATCH leaves a segment held FOR UPDATE to a task right after its commit; no deadlock, no
404, and the membership ends right."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from lists.dynamic import segment_rebuild
from lists.models import ContactList, ListKind, ListMembership
from lists.services import list_create, list_delete, list_update
from tests.races.helpers import run_together

PARIS = {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Paris"}]}
LYON = {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Lyon"}]}


def _ann_and_segment(tenant, city):
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": city}
        )
        segment = list_create(
            tenant=tenant, actor=SYSTEM_ACTOR, name="Parisians", kind=ListKind.DYNAMIC, rules=PARIS
        )
    return ann, segment


def _patch_while_held(tenant, client, ann, segment, *, no_key: bool, then) -> None:
    """Hold the segment as `then`'s first statement does, a second (a large segment's work), then run
    `then` in the same transaction, while Ann is PATCHed: both succeed, the PATCH with 200."""
    locked = threading.Event()

    def hold():
        with tenant_context(tenant), transaction.atomic():
            list(
                ContactList.objects.for_tenant(tenant).select_for_update(no_key=no_key).filter(pk=segment.pk)
            )
            locked.set()
            time.sleep(1)
            then()

    def patch():
        assert locked.wait(10)
        response = client.patch(f"/api/v1/contacts/{ann.pk}/", {"first_name": "Ann"}, format="json")
        return response.status_code, response.json()

    results, errors = run_together(hold, patch)
    assert errors == [], errors
    assert results[1][0] == 200, results


def _member(segment, ann) -> bool:
    return ListMembership.objects.unscoped().filter(contact_list=segment, contact=ann).exists()


@pytest.mark.django_db(transaction=True)
def test_patching_a_contact_while_a_segment_is_deleted_is_not_a_404(client_for, tenant):
    """The PATCH's inline refresh finds the segment deleted meanwhile: it skips it, 200."""
    ann, segment = _ann_and_segment(tenant, "Lyon")
    delete = lambda: list_delete(tenant=tenant, actor=SYSTEM_ACTOR, list_id=segment.pk)  # noqa: E731
    _patch_while_held(tenant, client_for(tenant, Role.OWNER), ann, segment, no_key=True, then=delete)


@pytest.mark.django_db(transaction=True)
def test_patching_a_member_of_a_segment_being_deleted_is_not_a_500(client_for, tenant):
    """Ann is a member: the PATCH holds her row and refreshes the segment while the deletion holds the
    segment and unlinks its members: both succeed."""
    ann, segment = _ann_and_segment(tenant, "Paris")
    delete = lambda: list_delete(tenant=tenant, actor=SYSTEM_ACTOR, list_id=segment.pk)  # noqa: E731
    _patch_while_held(tenant, client_for(tenant, Role.OWNER), ann, segment, no_key=True, then=delete)
    assert not ContactList.objects.unscoped().filter(pk=segment.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_patching_a_member_of_a_segment_whose_rules_change_is_not_a_500(client_for, tenant):
    """list_update holds the segment and rebuilds it while a member is PATCHed: both succeed, and Ann
    (in Paris) leaves the segment now on Lyon."""
    ann, segment = _ann_and_segment(tenant, "Paris")

    def change_rules():
        list_update(tenant=tenant, actor=SYSTEM_ACTOR, list_id=segment.pk, changes={"rules": LYON})

    _patch_while_held(tenant, client_for(tenant, Role.OWNER), ann, segment, no_key=False, then=change_rules)
    assert not _member(segment, ann)


@pytest.mark.django_db(transaction=True)
def test_patching_a_member_while_its_segment_is_rebuilt_is_not_a_500(client_for, tenant):
    """The rebuild task holds the segment and links every matching contact while one of them is
    PATCHed: both succeed, and Ann stays a member."""
    ann, segment = _ann_and_segment(tenant, "Paris")
    rebuild = lambda: segment_rebuild(tenant=tenant, list_id=segment.pk)  # noqa: E731
    _patch_while_held(tenant, client_for(tenant, Role.OWNER), ann, segment, no_key=False, then=rebuild)
    assert _member(segment, ann)

"""A contact PATCH (its inline segment refresh key-share-locks each segment: contacts_link.target_lock)
while a dynamic segment is held FOR UPDATE by its deletion, a rules change or a rebuild: the PATCH
leaves that segment to a task right after its commit; no deadlock, no 404, and the membership ends
right."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from lists.models import ContactList, ListKind
from lists.services import list_create, list_delete
from tests.races.helpers import run_together

PARIS = {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Paris"}]}


def _race(tenant, client, segment, ann):
    locked = threading.Event()

    def delete():
        with tenant_context(tenant), transaction.atomic():
            list(
                ContactList.objects.for_tenant(tenant).select_for_update(no_key=True).filter(pk=segment.pk)
            )  # its lock
            locked.set()
            time.sleep(1)  # removing a large segment's members takes this long
            list_delete(tenant=tenant, actor=SYSTEM_ACTOR, list_id=segment.pk)

    def patch():
        assert locked.wait(10)
        response = client.patch(f"/api/v1/contacts/{ann.pk}/", {"first_name": "Ann"}, format="json")
        return response.status_code, response.json()

    return run_together(delete, patch)


@pytest.mark.django_db(transaction=True)
def test_patching_a_contact_while_a_segment_is_deleted_is_not_a_404(client_for, tenant):
    """The PATCH's inline refresh finds the segment deleted meanwhile: it skips it, 200."""
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": "Lyon"}
        )
        segment = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Parisians", kind=ListKind.DYNAMIC,
                              rules=PARIS)  # fmt: skip
    results, errors = _race(tenant, client_for(tenant, Role.OWNER), segment, ann)
    assert errors == [], errors
    assert results[1][0] == 200, results


@pytest.mark.django_db(transaction=True)
def test_patching_a_member_of_a_segment_being_deleted_is_not_a_500(client_for, tenant):
    """Ann is a member: the PATCH holds her row and refreshes the segment while the deletion holds the
    segment and unlinks its members: both succeed."""
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": "Paris"}
        )
        segment = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Parisians", kind=ListKind.DYNAMIC,
                              rules=PARIS)  # fmt: skip
    results, errors = _race(tenant, client_for(tenant, Role.OWNER), segment, ann)
    assert errors == [], errors
    assert results[1][0] == 200, results
    assert not ContactList.objects.unscoped().filter(pk=segment.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_patching_a_member_of_a_segment_whose_rules_change_is_not_a_500(client_for, tenant):
    """list_update holds the segment and rebuilds it while a member is PATCHed: both succeed."""
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": "Paris"}
        )
        segment = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Parisians", kind=ListKind.DYNAMIC,
                              rules=PARIS)  # fmt: skip
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def change_rules():
        from lists.services import list_update

        with tenant_context(tenant), transaction.atomic():
            list(
                ContactList.objects.for_tenant(tenant).select_for_update(no_key=True).filter(pk=segment.pk)
            )  # its lock
            locked.set()
            time.sleep(1)
            lyon = {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Lyon"}]}
            list_update(tenant=tenant, actor=SYSTEM_ACTOR, list_id=segment.pk, changes={"rules": lyon})

    def patch():
        assert locked.wait(10)
        response = client.patch(f"/api/v1/contacts/{ann.pk}/", {"first_name": "Ann"}, format="json")
        return response.status_code, response.json()

    results, errors = run_together(change_rules, patch)
    assert errors == [], errors
    assert results[1][0] == 200, results


@pytest.mark.django_db(transaction=True)
def test_patching_a_member_while_its_segment_is_rebuilt_is_not_a_500(client_for, tenant):
    """The rebuild task holds the segment and links every matching contact while one of them is
    PATCHed: both succeed."""
    from lists.dynamic import segment_rebuild

    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": "Paris"}
        )
        segment = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Parisians", kind=ListKind.DYNAMIC,
                              rules=PARIS)  # fmt: skip
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def rebuild():
        with tenant_context(tenant), transaction.atomic():
            list(
                ContactList.objects.for_tenant(tenant).select_for_update(no_key=True).filter(pk=segment.pk)
            )  # its lock
            locked.set()
            time.sleep(1)  # compiling and running a large segment's rules takes this long
            segment_rebuild(tenant=tenant, list_id=segment.pk)

    def patch():
        assert locked.wait(10)
        response = client.patch(f"/api/v1/contacts/{ann.pk}/", {"first_name": "Ann"}, format="json")
        return response.status_code, response.json()

    results, errors = run_together(rebuild, patch)
    assert errors == [], errors
    assert results[1][0] == 200, results

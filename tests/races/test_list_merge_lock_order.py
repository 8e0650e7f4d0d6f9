"""list_merge with delete_merged locks every list it changes, in id order, before any contact."""

import threading
import time

import pytest

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from lists import services as list_services
from lists.dynamic import segment_rebuild
from lists.models import ContactList, ListKind, ListMembership
from lists.services import list_create
from tags import services as tag_services
from tests.races.helpers import backend_pid, call, deadlock_in, post, run_together, wait_until_blocked

PARIS = {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Paris"}]}
ANNS = {"operator": "and", "rules": [{"field": "first_name", "op": "eq", "value": "Ann"}]}


@pytest.mark.django_db(transaction=True)
def test_merging_a_segment_into_a_list_while_the_segment_is_rebuilt(client_for, tenant, monkeypatch):
    """POST /lists/{static}/merge/ {"lists": [segment], "delete_merged": true} holds the segment before
    its members, as a rebuild does (segment, then contacts): a rebuild meanwhile waits. (It locked the
    members while linking them, then the segment to delete it: a deadlock, a 500 to the merge.)"""
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": "Paris"}
        )
        segment = list_create(
            tenant=tenant, actor=SYSTEM_ACTOR, name="Parisians", kind=ListKind.DYNAMIC, rules=PARIS
        )
        target = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Everyone")
    client = client_for(tenant, Role.OWNER)
    holding = threading.Event()
    pids: dict = {}
    original = list_services.segments_rebuild_later

    def paused(**kwargs):  # _fill's step right after it linked (and locked) the segment's members
        holding.set()
        wait_until_blocked(pids, "rebuild")
        time.sleep(1.3)
        return original(**kwargs)

    monkeypatch.setattr(list_services, "segments_rebuild_later", paused)

    def merge():
        return post(
            client, f"/api/v1/lists/{target.pk}/merge/", {"lists": [str(segment.pk)], "delete_merged": True}
        )

    def rebuild():
        assert holding.wait(10)
        pids["rebuild"] = backend_pid()
        with tenant_context(tenant):
            return call(lambda: segment_rebuild(tenant=tenant, list_id=segment.pk))

    results, errors = run_together(merge, rebuild)
    assert errors == [], errors
    assert deadlock_in(results, errors) == [], results
    assert results[0] == (200, {"changed": 1}), results
    assert not ContactList.objects.unscoped().filter(pk=segment.pk).exists()
    assert ListMembership.objects.unscoped().filter(contact_list=target, contact=ann).exists()


@pytest.mark.django_db(transaction=True)
def test_merging_two_segments_while_a_tag_is_renamed(client_for, tenant, monkeypatch):
    """Merging [s2, s1] with delete_merged locks them in id order, as a tag rename locks the tenant's
    segments (ORDER BY id): no deadlock whichever order the caller names them in."""
    with tenant_context(tenant):
        services.contact_create(
            tenant=tenant,
            actor=SYSTEM_ACTOR,
            data={"email": "ann@example.com", "city": "Paris", "first_name": "Ann"},
        )
        s1 = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="s1", kind=ListKind.DYNAMIC, rules=PARIS)
        s2 = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="s2", kind=ListKind.DYNAMIC, rules=ANNS)
        target = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Everyone")
        tag = tag_services.tag_create(tenant=tenant, name="VIP")
    client = client_for(tenant, Role.OWNER)
    holding = threading.Event()
    pids: dict = {}
    original = list_services._refuse_if_imported_into
    calls = []

    def paused(tenant_, contact_list):  # list_delete's step right after it locked the list
        calls.append(contact_list.pk)
        if len(calls) == 1:
            holding.set()
            wait_until_blocked(pids, "rename")
            time.sleep(1.3)
        return original(tenant_, contact_list)

    monkeypatch.setattr(list_services, "_refuse_if_imported_into", paused)

    def merge():
        return post(
            client,
            f"/api/v1/lists/{target.pk}/merge/",
            {"lists": [str(s2.pk), str(s1.pk)], "delete_merged": True},
        )

    def rename():
        assert holding.wait(10)
        pids["rename"] = backend_pid()
        with tenant_context(tenant):
            return call(
                lambda: tag_services.tag_update(tenant=tenant, tag_id=tag.pk, changes={"name": "Gold"})
            )

    results, errors = run_together(merge, rename)
    assert errors == [], errors
    assert calls[0] == s2.pk
    assert deadlock_in(results, errors) == [], results
    assert results[0][0] == 200, results

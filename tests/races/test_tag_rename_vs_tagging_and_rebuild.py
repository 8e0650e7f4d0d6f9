"""Tagging a contact, renaming the tag and rebuilding a segment the contact matches, at once."""

import threading
import time

import pytest

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from lists.dynamic import segment_rebuild
from lists.models import ListKind
from lists.services import list_create
from tags import services as tag_services
from tags.models import Tag, TagAssignment
from tests.races.helpers import backend_pid, call, deadlock_in, post, run_together, wait_until_blocked

PARIS = {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Paris"}]}


@pytest.mark.django_db(transaction=True)
def test_tagging_while_the_tag_is_renamed_and_a_segment_rebuilt(client_for, tenant, monkeypatch):
    """A rename locks its tag FOR NO KEY UPDATE (no key changes), so tagging Ann (holding her, then
    KEY SHARE on the tag) passes it while the rename waits for a segment whose rebuild waits for Ann.
    (The rename's FOR UPDATE refused the KEY SHARE: a three-way deadlock, a 500 to the tagging.)"""
    with tenant_context(tenant):
        ann = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com", "city": "Paris"}
        )
        segment = list_create(
            tenant=tenant, actor=SYSTEM_ACTOR, name="Parisians", kind=ListKind.DYNAMIC, rules=PARIS
        )
        tag = tag_services.tag_create(tenant=tenant, name="VIP")
    client = client_for(tenant, Role.OWNER)
    holding = threading.Event()
    pids: dict = {}
    original = tag_services.tags_get_or_create

    def paused(**kwargs):  # contact_tag's next step after locking Ann
        holding.set()
        wait_until_blocked(pids, "rename")
        time.sleep(1.3)  # past the others' deadlock checks: the tagging closes the cycle
        return original(**kwargs)

    monkeypatch.setattr(tag_services, "tags_get_or_create", paused)

    def tag_ann():
        return post(client, f"/api/v1/contacts/{ann.pk}/tags/", {"tags": ["VIP"]})

    def rebuild():
        assert holding.wait(10)
        pids["rebuild"] = backend_pid()
        with tenant_context(tenant):
            return call(lambda: segment_rebuild(tenant=tenant, list_id=segment.pk))

    def rename():
        assert holding.wait(10)
        wait_until_blocked(pids, "rebuild")
        pids["rename"] = backend_pid()
        with tenant_context(tenant):
            return call(
                lambda: tag_services.tag_update(tenant=tenant, tag_id=tag.pk, changes={"name": "Gold"})
            )

    results, errors = run_together(tag_ann, rebuild, rename)
    assert errors == [], errors
    assert deadlock_in(results, errors) == [], results
    assert results[0][0] == 200, results
    assert Tag.objects.unscoped().get(pk=tag.pk).name == "Gold"
    assert TagAssignment.objects.unscoped().filter(tag=tag, contact=ann).exists()

"""A tag deleted (target_delete) while a bulk apply of the same tag runs."""

import threading
import time

import pytest

from contacts import services
from contacts.models import Contact
from contacts.services import links
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from tags.models import Tag
from tags.services import contact_tag, tag_bulk, tag_delete
from tests.races.helpers import run_together


@pytest.mark.django_db(transaction=True)
def test_deleting_a_tag_while_it_is_applied_in_bulk_does_not_deadlock(tenant, monkeypatch):
    """tag_delete holds the tag FOR NO KEY UPDATE and, after its first unlink, its holders; a bulk
    apply, holding no contact, takes the tag FOR SHARE (target_lock's SHARE) and so waits for the whole
    deletion before locking any contact, then finds the tag gone: no deadlock."""
    with tenant_context(tenant):
        ann = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com"})
        services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "bob@example.com"})
        contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=ann.pk, names=["VIP"])
    tag = Tag.objects.unscoped().get(tenant=tenant, name="VIP")
    first_done = threading.Event()
    real_unlink = links.contacts_unlink
    calls = []

    def unlink(**kwargs):
        result = real_unlink(**kwargs)
        calls.append(1)
        if len(calls) == 1:  # between the first unlink and FOR UPDATE (a large tag's unlink is this long)
            first_done.set()
            time.sleep(1)
        return result

    monkeypatch.setattr(links, "contacts_unlink", unlink)

    def delete():
        with tenant_context(tenant):
            return tag_delete(tenant=tenant, actor=SYSTEM_ACTOR, tag_id=tag.pk)

    def apply():
        assert first_done.wait(10)
        with tenant_context(tenant):
            try:
                return tag_bulk(tenant=tenant, actor=SYSTEM_ACTOR, tag_id=tag.pk,
                                selection=Contact.objects.for_tenant(tenant))  # fmt: skip
            except links.NotFound:  # the tag gone once the deletion committed: a 404 is fine
                return "404"

    _, errors = run_together(delete, apply)
    assert errors == [], errors

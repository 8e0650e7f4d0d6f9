"""Erasing a contact while a tag its segment's rules name is renamed."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from lists.models import ContactList, ListKind
from lists.services import list_create
from tags import services as tag_services
from tests.races.helpers import deadlock_in, post, run_together

RULES = {
    "operator": "or",
    "rules": [
        {"field": "email", "op": "eq", "value": "ann@example.com"},
        {"field": "tags", "op": "any", "value": ["VIP"]},
    ],
}


@pytest.mark.django_db(transaction=True)
def test_erasing_a_contact_while_a_tag_its_segment_names_is_renamed_keeps_the_rename(client_for, tenant):
    """A rename VIP -> Gold rewrites the segment's rules while the erasure of Ann waits for the
    segment: the erasure scrubs the rules as they are once it holds them, so they keep naming Gold
    (it scrubbed rules read before the rename committed and wrote them back: the segment named a tag
    gone, frozen, following the next tag to be named VIP)."""
    with tenant_context(tenant):
        ann = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com"})
        bob = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "bob@example.com"})
        tag_services.contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=bob.pk, names=["VIP"])
        segment = list_create(
            tenant=tenant, actor=SYSTEM_ACTOR, name="seg", kind=ListKind.DYNAMIC, rules=RULES
        )
    tag = tag_services.Tag.objects.unscoped().get(tenant=tenant, name="VIP")
    client = client_for(tenant, Role.OWNER)
    renamed = threading.Event()

    def rename():
        with tenant_context(tenant), transaction.atomic():
            tag_services.tag_update(tenant=tenant, tag_id=tag.pk, changes={"name": "Gold"})
            renamed.set()
            time.sleep(1.5)  # the rest of the request

    def erase():
        assert renamed.wait(10)
        return post(client, f"/api/v1/contacts/{ann.pk}/erase/")

    results, errors = run_together(rename, erase)
    assert errors == [] and deadlock_in(results, errors) == [], (results, errors)
    assert results[1][0] == 200, results
    rules = ContactList.objects.unscoped().get(pk=segment.pk).rules
    assert "ann@example.com" not in str(rules), rules
    assert rules["rules"][1]["value"] == ["Gold"], rules

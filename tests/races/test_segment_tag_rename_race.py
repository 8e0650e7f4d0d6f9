"""A tag renamed while a segment naming it is being created."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from lists.models import ContactList, ListKind, ListMembership
from lists.services import list_create
from tags.models import Tag
from tags.services import contact_tag, tag_update
from tests.races.helpers import run_together


@pytest.mark.django_db(transaction=True)
def test_a_segment_created_while_its_tag_is_renamed_follows_the_tag(tenant):
    """list_create holds the tags its rules name until it commits: renaming VIP to Gold meanwhile
    waits for it, then rewrites the new segment's rules too, so it follows the tag (Bob, tagged Gold
    afterwards, enters it), as when the two requests run one after the other."""
    with tenant_context(tenant):
        ann = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com"})
        bob = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "bob@example.com"})
        contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=ann.pk, names=["VIP"])
    tag = Tag.objects.unscoped().get(tenant=tenant, name="VIP")
    created = threading.Event()
    segment = {}

    def create():
        with tenant_context(tenant), transaction.atomic():
            segment["list"] = list_create(
                tenant=tenant,
                actor=SYSTEM_ACTOR,
                name="VIPs",
                kind=ListKind.DYNAMIC,
                rules={"operator": "and", "rules": [{"field": "tags", "op": "any", "value": ["VIP"]}]},
            )
            created.set()
            time.sleep(1)  # the rest of the request (a large segment's fill takes this long)

    def rename():
        assert created.wait(10)
        with tenant_context(tenant):
            tag_update(tenant=tenant, tag_id=tag.pk, changes={"name": "Gold"})

    _, errors = run_together(create, rename)
    assert errors == [], errors
    with tenant_context(tenant):
        contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=bob.pk, names=["Gold"])
    rules = ContactList.objects.unscoped().get(pk=segment["list"].pk).rules
    assert rules["rules"][0]["value"] == ["Gold"], rules
    assert ListMembership.objects.unscoped().filter(contact_list=segment["list"], contact=bob).exists()

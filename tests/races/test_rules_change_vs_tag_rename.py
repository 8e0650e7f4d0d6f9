"""A segment's rules changed (list_update) while a tag its new rules name is renamed."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from lists.dynamic import rules_names_hold
from lists.models import ContactList, ListKind
from lists.services import list_create, list_update
from tags.models import Tag
from tags.services import contact_tag, tag_update
from tests.races.helpers import run_together


@pytest.mark.django_db(transaction=True)
def test_changing_a_segments_rules_while_the_tag_they_name_is_renamed_does_not_deadlock(tenant):
    """list_update holds the tags its new rules name (FOR SHARE) before the list, as tag_update locks the
    tag, then the dynamic lists (segments_follow_tag_rename): a rename meanwhile waits for the rules
    change, then rewrites its rules to the new name; no deadlock."""
    with tenant_context(tenant):
        ann = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com"})
        contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=ann.pk, names=["VIP"])
        segment = list_create(
            tenant=tenant, actor=SYSTEM_ACTOR, name="Cities", kind=ListKind.DYNAMIC,
            rules={"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Paris"}]},
        )  # fmt: skip
    tag = Tag.objects.unscoped().get(tenant=tenant, name="VIP")
    locked = threading.Event()

    def update():
        with tenant_context(tenant), transaction.atomic():
            # list_update's first statements (the tags its rules name, then the list), then the rest
            rules = {"operator": "and", "rules": [{"field": "tags", "op": "any", "value": ["VIP"]}]}
            rules_names_hold(tenant=tenant, rules=rules)
            list(ContactList.objects.for_tenant(tenant).select_for_update().filter(pk=segment.pk))
            locked.set()
            time.sleep(1)
            list_update(tenant=tenant, actor=SYSTEM_ACTOR, list_id=segment.pk, changes={"rules": rules})

    def rename():
        assert locked.wait(10)
        with tenant_context(tenant):
            tag_update(tenant=tenant, tag_id=tag.pk, changes={"name": "Gold"})

    _, errors = run_together(update, rename)
    assert errors == [], errors

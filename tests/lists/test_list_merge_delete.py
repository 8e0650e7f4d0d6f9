"""Merging lists with delete_merged when the merged lists include a segment and the static list its
rules name."""

import pytest
from django.urls import reverse

from lists.models import ContactList
from tests.factories import ContactFactory
from tests.lists.segment_helpers import add_members, rule, segment, static


@pytest.mark.django_db
def test_merge_deleting_a_segment_and_the_list_it_names_does_not_depend_on_their_order(api, tenant):
    """docs/api.md, Lists: `POST /lists/{id}/merge/` `{"lists": [ids], "delete_merged": ...}`: "with
    delete_merged the merged lists are deleted afterwards"; a static list is kept (409 in_use) only
    while "the rules of a dynamic list name" it. Here the only segment naming B is itself merged
    and deleted, so the request succeeds with the lists in one order ([A, B]: 200). The same request
    with the lists in the other order must give the same answer (the admin deletes dynamic lists
    first for exactly this reason).

    Actual: [B, A] is a 409 in_use naming A (and nothing is merged): lists.services.list_merge
    deletes the merged lists in the order given, so B is deleted while A still names it."""
    contact = ContactFactory(tenant=tenant)
    target = static(api, "Target")
    b = static(api, "B")
    add_members(api, b["id"], contact)
    a = segment(api, "A", rule("lists", "in", [b["id"]]))

    r = api.post(
        reverse("list-merge", kwargs={"pk": target["id"]}),
        {"lists": [b["id"], a["id"]], "delete_merged": True},
        format="json",
    )

    assert r.status_code == 200, r.json()
    assert r.json() == {"changed": 1}
    assert not ContactList.objects.unscoped().filter(pk__in=[a["id"], b["id"]]).exists()

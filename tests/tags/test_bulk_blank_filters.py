"""Bulk selections: a filter with an empty value is a 400, never every contact."""

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from lists.models import ListMembership
from tags.models import TagAssignment
from tests.factories import ContactFactory

TAGS = reverse("tag-list")
LISTS = reverse("list-list")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "flt",
    [{"email": ""}, {"external_id": ""}, {"list": ""}, {"search": " "}, {"country": ","}, {"status": [""]}],
    ids=["email", "external_id", "list", "search", "country", "status"],
)
def test_a_filter_with_an_empty_value_does_not_select_every_contact(api, tenant, flt):
    """`{"filter": {"email": ""}}` is read as no filter at all: every live contact of the tenant is
    tagged (changed = all of them, one contact.tagged each). docs/api.md (Selections): values that
    are not a usable filter are "a 400 on filter.<name>, never read as a wider filter"; `{}` is the
    only way to say "everyone". (`{"tags": ","}` by contrast matches nobody.)"""
    for _ in range(3):
        ContactFactory(tenant=tenant)
    tag_id = api.post(TAGS, {"name": "VIP"}, format="json").json()["id"]

    response = api.post(reverse("tag-apply", kwargs={"pk": tag_id}), {"filter": flt}, format="json")

    assert response.status_code == 400, response.json()
    assert [e["field"] for e in response.json()["errors"]] == [f"filter.{next(iter(flt))}"]
    assert TagAssignment.objects.unscoped().count() == 0
    assert not OutboxEvent.objects.unscoped().filter(event_type="contact.tagged").exists()


@pytest.mark.django_db
def test_removing_by_an_empty_email_filter_does_not_empty_the_list(api, tenant):
    """The same on a static list: "remove the contact with this email" with an empty email removes
    every member (contact.removed_from_list for each)."""
    contacts = [ContactFactory(tenant=tenant) for _ in range(3)]
    list_id = api.post(LISTS, {"name": "Newsletter"}, format="json").json()["id"]
    added = api.post(
        reverse("list-contacts", kwargs={"pk": list_id}),
        {"contact_ids": [str(c.pk) for c in contacts]},
        format="json",
    )
    assert added.json() == {"changed": 3}

    response = api.post(
        reverse("list-remove-contacts", kwargs={"pk": list_id}), {"filter": {"email": ""}}, format="json"
    )

    assert response.status_code == 400, response.json()
    assert ListMembership.objects.unscoped().filter(contact_list_id=list_id).count() == 3
    assert not OutboxEvent.objects.unscoped().filter(event_type="contact.removed_from_list").exists()

"""Bulk selections by filter: the JSON type of each filter value."""

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from tests.factories import ContactFactory
from tests.lists.segment_helpers import static


@pytest.mark.django_db
@pytest.mark.parametrize("name,value", [("email", ["ann@example.com"]), ("search", ["ann"])])
def test_a_list_for_a_one_value_filter_is_a_400(api, tenant, name, value):
    """docs/api.md, Selections: "Each value is a string; a list of strings where the parameter takes
    several (`status`, and `country`, `tags`, `tags_all`, `consent`, `attribute` ...); anything else
    (null, a number, a list for a one-value filter) is a 400 on `filter.<name>`".

    Actual: a one-item list for a one-value filter (`email`, `search`) is accepted and the bulk
    runs (200, contacts added, events written); only lists of two or more items are refused
    (contacts.filters.filter_query checks `len(values) > 1` instead of "is a list")."""
    ContactFactory(tenant=tenant, email="ann@example.com", first_name="Ann")
    target = static(api, "Target")
    before = OutboxEvent.objects.unscoped().count()

    r = api.post(
        reverse("list-contacts", kwargs={"pk": target["id"]}), {"filter": {name: value}}, format="json"
    )

    assert r.status_code == 400, r.json()
    assert r.json()["errors"][0]["field"] == f"filter.{name}"
    assert OutboxEvent.objects.unscoped().count() == before

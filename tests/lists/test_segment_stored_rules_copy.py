"""A segment saved before the stricter rule checks can still be copied (found by a review): the copy's
rules are the original's, checked as its upkeep reads them (it was a 400 about rules the caller never
sent)."""

import pytest
from django.urls import reverse

from lists.models import ContactList
from tests.factories import AttributeDefinitionFactory
from tests.lists.segment_helpers import rule, segment


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stored_rule",
    [
        {"field": "attributes.since", "op": "eq", "value": "20240105"},
        {"field": "status", "op": "in", "value": ["active", "archived"]},
    ],
)
def test_a_segment_stored_before_the_stricter_checks_can_still_be_copied(api, tenant, stored_rule):
    AttributeDefinitionFactory(tenant=tenant, key="since", type="date")
    seg = segment(api, "Stored", rule("status", "eq", "active"))
    ContactList.objects.unscoped().filter(pk=seg["id"]).update(
        rules={"operator": "and", "rules": [stored_rule]}
    )

    response = api.post(
        reverse("list-copy", kwargs={"pk": seg["id"]}), {"name": "Stored copy"}, format="json"
    )

    # the original keeps working; a dynamic copy gets the same rules
    assert response.status_code == 201, response.json()

"""?attribute=score:<n> with a whole number between the largest float and 10^309 (1.8e308, 9e308) is a
400 naming `attribute` (out of range), as docs/api.md promises; found by a review (it was a 500)."""

import pytest
from django.urls import reverse

from tests.factories import AttributeDefinitionFactory

LIST = reverse("contact-list")


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["1.8e308", "9e308", "2" + "0" * 308])
def test_a_whole_number_past_the_largest_float_is_a_400(api, tenant, value):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")

    response = api.get(LIST, {"attribute": f"score:{value}"})

    assert response.status_code == 400, (value, response.status_code, response.content[:300])
    assert response.json()["errors"][0]["field"] == "attribute"

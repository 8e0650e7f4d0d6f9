"""A merge compares numbers by value: 1 and 1.0 are no conflict."""

import pytest
from django.urls import reverse

from contacts.models import Merge
from tests.merges.conftest import create, merge_url


@pytest.mark.django_db
def test_manual_review_does_not_ask_to_choose_between_equal_numbers(api):
    """A number attribute sent as 1 on one contact and 1.0 on the other holds one value: a
    manual_review merge goes through without asking to choose, and `conflicts` does not list it."""
    definition = {"key": "score", "label": "Score", "type": "number"}
    assert api.post(reverse("attribute-definition-list"), definition, format="json").status_code == 201
    primary = create(api, email="p@example.com", attributes={"score": 1})
    other = create(api, email="o@example.com", attributes={"score": 1.0})

    response = api.post(
        merge_url(primary["id"]),
        {"others": [other["id"]], "strategy": "manual_review", "fields": {"email": primary["id"]}},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert "attributes.score" not in response.json()["conflicts"]
    assert Merge.objects.unscoped().count() == 1

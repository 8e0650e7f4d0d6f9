"""docs/api.md, custom attribute definitions: type `date` is `YYYY-MM-DD`; the API's own message for a
bad value says "Must be a date as YYYY-MM-DD". Other ISO 8601 spellings Python 3.11's
date.fromisoformat accepts (basic 20240101, week dates 2024-W01-1) are refused, not rewritten."""

import pytest
from django.urls import reverse

LIST = reverse("contact-list")
DEFINITIONS = reverse("attribute-definition-list")


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["20240101", "2024-W01-1"])
def test_patch_date_attribute_other_than_yyyy_mm_dd_is_400(api, value):
    assert (
        api.post(DEFINITIONS, {"key": "birthday", "label": "B", "type": "date"}, format="json").status_code
        == 201
    )
    contact = api.post(LIST, {"email": "d@example.com"}, format="json").json()
    response = api.patch(
        reverse("contact-detail", kwargs={"pk": contact["id"]}),
        {"attributes": {"birthday": value}},
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["field"] == "attributes.birthday"

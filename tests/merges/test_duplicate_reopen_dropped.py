"""Reopening a dismissed pair that no longer matches: the check that runs right after drops it.
With tasks in-process (the embedded default) the check runs before the response is built; the
answer must still be the reopened pair, not a 500, and the pair must be gone after."""

import pytest
from django.urls import reverse

from tests.merges.conftest import DUPLICATES, contact_url, create


@pytest.mark.django_db(transaction=True)
def test_reopening_a_pair_that_no_longer_matches_answers_the_pair_then_drops_it(api):
    ann = create(api, email="ann@example.com", first_name="Ann")
    ann2 = create(api, phone="+33612345678", first_name="Ann")
    url = reverse("contact-identifier-list", kwargs={"contact_pk": ann2["id"]})
    assert api.post(url, {"channel": "email", "value": "ann@example.com"}, format="json").status_code == 201
    assert api.post(reverse("duplicate-recompute")).status_code == 202
    [item] = api.get(DUPLICATES).json()["results"]
    assert api.post(reverse("duplicate-dismiss", kwargs={"pk": item["id"]})).status_code == 200
    identifiers = api.get(url).json()
    extra = next(i for i in identifiers if i["value"] == "ann@example.com")
    assert api.delete(f"{url}{extra['id']}/").status_code == 204
    assert api.patch(contact_url(ann2["id"]), {"first_name": "Zoe"}, format="json").status_code == 200

    response = api.post(reverse("duplicate-reopen", kwargs={"pk": item["id"]}))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == item["id"] and body["dismissed_at"] is None
    assert {c["id"] for c in body["contacts"]} == {ann["id"], ann2["id"]}
    assert api.get(DUPLICATES, {"status": "all"}).json()["results"] == []

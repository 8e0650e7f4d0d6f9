"""An activity reported for a merged contact, by its email or its id, lands on the contact it was merged
into, as GET /contacts/resolve/ finds it (found by a bug hunt: it was lost as contact_not_found)."""

import pytest
from django.urls import reverse

from tests.merges.conftest import create, merge_url


@pytest.mark.django_db
def test_activity_batch_by_a_merged_contacts_email_reaches_the_primary(api):
    """Expected (docs/api.md, Merges: "the others' ... emails ... as email identifiers ...; `resolve`
    finds the primary by any of them"; a HubSpot/Mailchimp user expects events sent for a merged
    address to land on the surviving contact, as the double opt-in link of a merged contact does).
    Actual: events.activities resolves `email` only against live contacts' own `email` column, so
    after X is merged into P an activity for X's address is `contact_not_found` and lost, although
    GET /contacts/resolve/?channel=email&identifier=<X's email> answers P."""
    primary = create(api, email="pat@merged-activity.example")
    other = create(api, email="pat.work@merged-activity.example")
    merged = api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json")
    assert merged.status_code == 201, merged.json()
    resolved = api.get(reverse("contact-resolve"), {"channel": "email", "identifier": other["email"]})
    assert resolved.json()["id"] == primary["id"]

    response = api.post(
        reverse("activity-batch"),
        {"activities": [{"email": other["email"], "type": "email_opened", "title": "Opened"}]},
        format="json",
    )

    assert response.status_code in (200, 201), response.json()
    assert response.json()["results"][0]["status"] == "created", response.json()
    assert response.json()["results"][0]["contact_id"] == primary["id"]


def test_activity_batch_by_a_merged_contacts_id_reaches_the_primary(api):
    primary = create(api, email="keep@example.com")
    other = create(api, email="gone@example.com")
    assert api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json").status_code == 201

    response = api.post(
        "/api/v1/activities/",
        {"activities": [{"contact_id": other["id"], "type": "email_opened"},
                        {"contact_id": "01a00000-0000-7000-8000-000000000000", "type": "email_opened"}]},
        format="json",
    )  # fmt: skip

    assert response.status_code in (200, 201), response.json()
    [moved, unknown] = response.json()["results"]
    assert (moved["status"], moved["contact_id"]) == ("created", primary["id"])
    assert unknown["status"] == "contact_not_found"

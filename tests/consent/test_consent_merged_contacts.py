"""Consent and activities of merged contacts (found by a bug hunt): a revocation by the merged contact
after its sign-up supersedes its double opt-in link; recording consent for a merged id is a 404 naming
where it went; an activity reported for a merged id lands on its primary."""

import pytest
from django.urls import reverse

from tests.merges.conftest import create, merge_url

pytestmark = pytest.mark.django_db


def consents_url(pk):
    return reverse("contact-consents", kwargs={"contact_pk": pk})


def confirm_url(token):
    return reverse("consent-confirm", kwargs={"token": token})


def state(api, pk, channel="email", purpose="marketing"):
    current = api.get(consents_url(pk)).json()["current"]
    return next((c["status"] for c in current if (c["channel"], c["purpose"]) == (channel, purpose)), None)


def say(api, pk, status):
    response = api.post(
        consents_url(pk), {"channel": "email", "purpose": "marketing", "status": status}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_revocation_by_the_merged_contact_after_its_sign_up_supersedes_its_link(api, anon):
    """X signs up (pending), then revokes; X is merged into P: X's link is 409 token_superseded and P
    stays revoked (the link granted P's consent: only P's own ledger was read)."""
    primary = create(api, email="p@supersede.example")
    other = create(api, email="x@supersede.example")
    say(api, primary["id"], "revoked")
    token = say(api, other["id"], "pending")["confirmation"]["token"]
    say(api, other["id"], "revoked")  # the contact withdrew after signing up
    assert api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json").status_code == 201
    assert state(api, primary["id"]) == "revoked"

    response = anon.get(confirm_url(token))

    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "token_superseded"
    assert state(api, primary["id"]) == "revoked"


def test_recording_consent_for_a_merged_contacts_id_is_a_404_naming_where_it_went(api):
    """POST /contacts/{merged id}/consents/ is the 404 naming primary_id and merge_id, as the GET."""
    primary = create(api, email="keep@consent-post.example")
    other = create(api, email="gone@consent-post.example")
    done = api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json")
    assert done.status_code == 201, done.json()

    response = api.post(
        consents_url(other["id"]),
        {"channel": "email", "purpose": "marketing", "status": "granted"},
        format="json",
    )

    body = response.json()
    assert response.status_code == 404, body
    assert (body.get("primary_id"), body.get("merge_id")) == (primary["id"], done.json()["merge_id"]), body


def test_an_activity_reported_for_a_merged_contacts_id_lands_on_its_primary(api):
    """POST /contacts/{merged id}/activities/ records on the contact it was merged into, as the batch
    does (a reporting service keeps the ids it saw before the merge); the answer names that contact."""
    from events.models import Activity

    primary = create(api, email="keep@act-post.example")
    other = create(api, email="gone@act-post.example")
    done = api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json")
    assert done.status_code == 201, done.json()

    response = api.post(
        reverse("contact-activities", kwargs={"contact_pk": other["id"]}),
        {"type": "email_opened"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["contact_id"] == primary["id"]
    recorded = Activity.objects.unscoped().filter(contact_id=primary["id"], activity_type="email_opened")
    assert recorded.count() == 1

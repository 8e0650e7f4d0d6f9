"""Identifiers at their edges (found by a bug hunt): an over-long email identifier is refused with code
max_length; adding one to a merged contact answers where it went whatever the body."""

import pytest
from django.urls import reverse

from tests.factories import ContactFactory

RESOLVE = reverse("contact-resolve")
CONTACTS = reverse("contact-list")
BATCH = reverse("activity-batch")


def idents(contact_id) -> str:
    return reverse("contact-identifier-list", kwargs={"contact_pk": contact_id})


@pytest.mark.django_db
def test_an_over_long_email_identifier_is_refused_with_code_max_length(api, tenant):
    """An email identifier over 254 characters is a 400 on value with code max_length (it said invalid)."""
    contact = ContactFactory(tenant=tenant, email="a@example.com")
    too_long = "x" * 300 + "@example.com"
    response = api.post(idents(contact.pk), {"channel": "email", "value": too_long}, format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["field"] == "value"
    assert error["code"] == "max_length", error


@pytest.mark.django_db
def test_adding_an_identifier_to_a_merged_contact_says_where_it_went_whatever_the_body(api):
    """A body the serializer refuses, sent to a merged contact's identifiers, is the 404 naming where the
    contact went (the 400 came first)."""
    primary = api.post(CONTACTS, {"email": "p@example.com"}, format="json").json()
    other = api.post(CONTACTS, {"email": "o@example.com"}, format="json").json()
    merged = api.post(
        reverse("contact-merge", kwargs={"pk": primary["id"]}), {"others": [other["id"]]}, format="json"
    )
    assert merged.status_code == 201, merged.json()
    good = api.post(idents(other["id"]), {"channel": "push", "value": "tok"}, format="json")
    assert good.status_code == 404 and good.json()["primary_id"] == primary["id"]
    bad = api.post(idents(other["id"]), {"channel": "fax", "value": "tok"}, format="json")
    assert bad.status_code == 404, bad.json()
    assert bad.json()["primary_id"] == primary["id"]

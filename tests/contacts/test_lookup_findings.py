"""Contact lookups at their edges (found by a bug hunt): the attribute filter finds numbers stored in
exponent form, an email's local part is ASCII, a phone searched as written with + finds its contact."""

import pytest
from django.urls import reverse

from tests.factories import AttributeDefinitionFactory

LIST = reverse("contact-list")


@pytest.mark.django_db
@pytest.mark.parametrize("stored", [1e23, 1.5e300, 2.0**60])
def test_attribute_filter_finds_a_number_stored_in_exponent_form(api, tenant, stored):
    """A contact given score 1e23 (or 1.5e300, 2.0**60) is found by ?attribute=score:<the text the API shows
    for it>: the filter is the float written as that number (it was "the float holding the integer
    exactly", which none is for 1e23: nobody found)."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    created = api.post(LIST, {"email": "big@example.com", "attributes": {"score": stored}}, format="json")
    assert created.status_code == 201, created.json()
    as_written = repr(stored)  # '1e+23', '1.5e+300', '1.152921504606847e+18': what a client sends back

    response = api.get(LIST, {"attribute": f"score:{as_written}"})

    assert response.status_code == 200, response.json()
    assert [row["id"] for row in response.json()["results"]] == [created.json()["id"]], (
        as_written,
        api.get(f"{LIST}{created.json()['id']}/").json()["attributes"],
        response.json()["count"],
    )


@pytest.mark.django_db
@pytest.mark.parametrize("email", ["\u017fam@example.com", "\u0131nfo@example.com"])
def test_an_email_whose_local_part_is_not_ascii_is_refused(api, email):
    """An email whose local part is not ASCII is a 400 on `email`, as documented: the long s (U+017F) and the
    dotless i (U+0131) passed Django's case-insensitive [A-Z] and made look-alikes of ASCII addresses."""
    response = api.post(LIST, {"email": email}, format="json")

    assert response.status_code == 400, response.json()
    assert [e["field"] for e in response.json()["errors"]] == ["email"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "phone, typed",
    [
        ("+33 6 12 34 56 78", "+33 (0)6 12 34 56 78"),
        ("+44 7911 123456", "+44 (0)7911 123456"),
        ("+44 7911 123456", "+44 07911 123456"),
    ],
)
def test_search_finds_a_phone_written_the_way_the_api_accepts_it(api, phone, typed):
    """`search` for a whole number written with + as the phone field takes it ("+33 (0)6 12 34 56 78")
    finds the contact: it is matched by its E.164 digits (its trunk 0 made it unfindable)."""
    created = api.post(LIST, {"email": "tel@example.com", "phone": typed}, format="json")
    assert created.status_code == 201 and created.json()["phone"] == phone.replace(" ", ""), created.json()

    response = api.get(LIST, {"search": typed})

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [created.json()["id"]]

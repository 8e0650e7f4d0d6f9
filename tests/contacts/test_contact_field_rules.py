"""Contact fields kept as documented, never silently altered: phone extensions and stray letters
refused, country codes ISO 3166-1 (and XK)."""

import pytest
from django.urls import reverse

from contacts.models import Contact

LIST = reverse("contact-list")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "phone",
    [
        "+33 6 12 34 56 78 ext. 99",
        "+1 (650) 253-0000 ext 1234",
        "+33 6 12 34 56 78;ext=12",
        "+33 6 12 34 56 78 x1",
    ],
)
def test_phone_extension_is_not_silently_dropped(api, phone):
    """docs/api.md Fields: phone is stored as E.164, which has no extension. A number with an extension
    must be refused (400 naming phone) or kept, never stored without it."""
    response = api.post(LIST, {"phone": phone}, format="json")
    assert response.status_code == 400, (
        f"stored as {response.json().get('phone')!r}: extension silently dropped"
    )
    assert response.json()["errors"][0]["field"] == "phone"
    assert not Contact.objects.unscoped().exists()


@pytest.mark.django_db
@pytest.mark.parametrize("phone", ["+33 6 12 34 5x6 78", "+33 6 1a2 34 56 78"])
def test_phone_with_a_stray_letter_is_refused_not_silently_stripped(api, phone):
    response = api.post(LIST, {"phone": phone}, format="json")
    assert response.status_code == 400, f"stored as {response.json().get('phone')!r}: letter silently dropped"


@pytest.mark.django_db
@pytest.mark.parametrize("country", ["AC", "TA", "ac"])  # XK (Kosovo) is taken, as documented
def test_country_must_be_an_iso_3166_1_alpha_2_code(api, country):
    """docs/api.md Fields: country is ISO 3166-1 alpha-2. AC (Ascension), TA (Tristan da Cunha) are only
    'exceptionally reserved' and XK is user-assigned: phonenumbers' region list is not ISO 3166-1."""
    response = api.post(LIST, {"email": "ada@example.com", "country": country}, format="json")
    assert response.status_code == 400, f"accepted country {response.json().get('country')!r}"
    assert response.json()["errors"][0]["field"] == "country"

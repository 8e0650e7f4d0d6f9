"""The contacts list's filters: an empty `tags` value is skipped as every empty filter, and list
filters left in a detail URL's query string do not hide the contact."""

import pytest
from django.urls import reverse

from tests.factories import ContactFactory

LIST = reverse("contact-list")


@pytest.mark.django_db
@pytest.mark.parametrize("value", [",", " , ", ",,"])
def test_an_empty_tags_filter_is_skipped_like_every_other_empty_filter(api, tenant, value):
    """An empty value (`","`) is one the contacts list skips (docs/api.md, Selections): `?tags=,`
    lists every contact, as `?tags_all=,` does."""
    for n in range(3):
        ContactFactory(tenant=tenant, email=f"e{n}@example.com")
    assert api.get(LIST, {"tags_all": value}).json()["count"] == 3  # skipped, as documented
    response = api.get(LIST, {"tags": value})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 3, response.json()


@pytest.mark.django_db
@pytest.mark.parametrize("query", ["status=blocked", "search=zzz", "country=DE"])
def test_list_filters_in_the_query_string_do_not_make_a_live_contact_404_on_patch_or_delete(api, query):
    """List filters are not parameters of one contact's URL: `PATCH` and `DELETE /contacts/{id}/?status=
    blocked` (a UI keeping its list query string on the row's URL) change the live contact, as `GET`
    shows it."""
    contact = api.post(LIST, {"email": "live@example.com", "country": "FR"}, format="json").json()
    url = f"{LIST}{contact['id']}/"
    assert api.get(url + "?" + query).status_code == 200
    patched = api.patch(url + "?" + query, {"city": "Lyon"}, format="json")
    assert patched.status_code == 200, patched.content
    deleted = api.delete(url + "?" + query)
    assert deleted.status_code == 204, deleted.content

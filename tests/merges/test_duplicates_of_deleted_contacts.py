"""Soft-deleted contacts must not show through the duplicates endpoints (docs/api.md: soft delete
hides a contact from every read; GET /duplicates/ lists pairs of two live contacts)."""

import pytest
from django.urls import reverse

LIST = reverse("contact-list")
DUPLICATES = reverse("duplicate-list")


def _pair(api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ann = api.post(
            LIST, {"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee"}, format="json"
        ).json()
        gone = api.post(
            LIST,
            {"email": "secret.gone@example.com", "first_name": "Ann", "last_name": "Lee"},
            format="json",
        ).json()
        url = reverse("contact-identifier-list", kwargs={"contact_pk": gone["id"]})
        assert (
            api.post(url, {"channel": "email", "value": "ann@example.com"}, format="json").status_code == 201
        )
    pairs = api.get(DUPLICATES).json()["results"]
    assert len(pairs) == 1, pairs
    return ann, gone, pairs[0]["id"]


@pytest.mark.django_db
def test_dismissing_a_pair_whose_contact_was_soft_deleted_is_404_and_shows_nothing_of_it(
    api, django_capture_on_commit_callbacks
):
    _ann, gone, pair_id = _pair(api, django_capture_on_commit_callbacks)
    assert api.delete(reverse("contact-detail", kwargs={"pk": gone["id"]})).status_code == 204
    assert api.get(DUPLICATES, {"status": "all"}).json()["results"] == []  # the list hides the pair

    response = api.post(reverse("duplicate-dismiss", kwargs={"pk": pair_id}))
    # Expected: 404 like every read of a soft-deleted contact; actual: 200 with the deleted contact's data.
    assert "secret.gone@example.com" not in response.content.decode()
    assert response.status_code == 404, response.json()


@pytest.mark.django_db
def test_reopening_a_dismissed_pair_whose_contact_was_soft_deleted_is_404(
    api, django_capture_on_commit_callbacks
):
    _ann, gone, pair_id = _pair(api, django_capture_on_commit_callbacks)
    assert api.post(reverse("duplicate-dismiss", kwargs={"pk": pair_id})).status_code == 200
    assert api.delete(reverse("contact-detail", kwargs={"pk": gone["id"]})).status_code == 204
    assert api.get(DUPLICATES, {"status": "dismissed"}).json()["results"] == []

    response = api.post(reverse("duplicate-reopen", kwargs={"pk": pair_id}))
    assert "secret.gone@example.com" not in response.content.decode()
    assert response.status_code == 404, response.json()

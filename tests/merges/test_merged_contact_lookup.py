"""A merged contact's id still answers 404, and the body says where the contact went: `primary_id`
(the live contact holding it now, through merges of merges) and `merge_id`; an undo makes it a
contact again; a deleted or unknown id is a plain 404, another tenant's merged contact too."""

import pytest

from tests.merges.conftest import contact_url, create, merge_url, undo_url


def merge(api, primary, *others):
    response = api.post(merge_url(primary["id"]), {"others": [o["id"] for o in others]}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
def test_get_patch_and_timeline_of_a_merged_contact_name_the_primary_and_the_merge(api):
    primary = create(api, email="keep@lookup.example")
    other = create(api, email="gone@lookup.example")
    done = merge(api, primary, other)

    for response in (
        api.get(contact_url(other["id"])),
        api.patch(contact_url(other["id"]), {"city": "Lyon"}, format="json"),
        api.get(contact_url(other["id"], "timeline")),
        api.delete(contact_url(other["id"])),
    ):
        body = response.json()
        assert response.status_code == 404, body
        assert body["code"] == "not_found"
        assert (body["primary_id"], body["merge_id"]) == (primary["id"], done["merge_id"])
        assert primary["id"] in body["message"]


@pytest.mark.django_db
def test_a_merge_of_a_merge_names_the_live_contact(api):
    first = create(api, email="a@chain.example")
    second = create(api, email="b@chain.example")
    third = create(api, email="c@chain.example")
    one = merge(api, second, first)
    merge(api, third, second)

    body = api.get(contact_url(first["id"])).json()

    assert (body["primary_id"], body["merge_id"]) == (third["id"], one["merge_id"])


@pytest.mark.django_db
def test_after_an_undo_the_contact_is_found_and_a_deleted_one_is_a_plain_404(api):
    primary = create(api, email="keep@undo-lookup.example")
    other = create(api, email="back@undo-lookup.example")
    done = merge(api, primary, other)
    assert api.post(undo_url(done["merge_id"]), format="json").status_code == 200

    assert api.get(contact_url(other["id"])).status_code == 200
    assert api.delete(contact_url(other["id"])).status_code == 204
    body = api.get(contact_url(other["id"])).json()
    assert body["code"] == "not_found" and "primary_id" not in body and "merge_id" not in body


@pytest.mark.django_db
def test_another_tenants_merged_contact_is_a_plain_404(api, client_for, other_tenant):
    other_api = client_for(other_tenant)
    primary = create(other_api, email="keep@theirs.example")
    other = create(other_api, email="gone@theirs.example")
    merge(other_api, primary, other)

    response = api.get(contact_url(other["id"]))

    assert response.status_code == 404
    assert "primary_id" not in response.json() and primary["id"] not in response.json()["message"]

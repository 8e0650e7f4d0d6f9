"""A JWT user whose role lacks lists.manage and who holds no share at all: docs/api.md, Roles and
permissions, "A role without the permission gets **403**" (Errors: 403 `permission_denied`, "the role
lacks the permission (the message names it)")."""

import uuid

import pytest

from contacts_service.roles import Role

# The list actions contacts_service.viewsets.HasActionPermission lets an object grant stand in for
# (lists/api.py ContactListViewSet.object_grants).
GRANTABLE = [
    ("patch", "", {"name": "x"}),
    ("post", "contacts/", {"contact_ids": []}),
    ("post", "contacts/remove/", {"contact_ids": []}),
    ("post", "merge/", {"lists": []}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["unknown uuid", "not a uuid", "another tenant's list"])
@pytest.mark.parametrize(
    ("method", "suffix", "body"), GRANTABLE, ids=[m + " " + (s or "detail") for m, s, _ in GRANTABLE]
)
def test_a_viewer_without_any_share_gets_403_not_404_on_list_writes(
    client_for, user_client_for, tenant, other_tenant, kind, method, suffix, body
):
    """A contacts_viewer signed in with a JWT, holding no share of that list, gets 403
    `permission_denied` naming lists.manage for PATCH /lists/{id}/, POST /lists/{id}/contacts/,
    /contacts/remove/ and /merge/ whatever {id} is (unknown, malformed, another tenant's), as the same
    role over an API key does (a share stands in for lists.manage only on the list it names)."""
    foreign = client_for(other_tenant).post("/api/v1/lists/", {"name": "F"}, format="json").json()["id"]
    ids = {"unknown uuid": str(uuid.uuid4()), "not a uuid": "garbage", "another tenant's list": foreign}
    list_id = ids[kind]
    url = f"/api/v1/lists/{list_id}/{suffix}"

    api_key_viewer = client_for(tenant, Role.CONTACTS_VIEWER)
    by_key = getattr(api_key_viewer, method)(url, body, format="json")
    assert by_key.status_code == 403  # the API key of the same role: as documented

    jwt_viewer, _ = user_client_for(tenant, Role.CONTACTS_VIEWER)
    by_jwt = getattr(jwt_viewer, method)(url, body, format="json")
    assert by_jwt.status_code == 403, (by_jwt.status_code, by_jwt.json())
    assert by_jwt.json()["code"] == "permission_denied"
    assert "lists.manage" in by_jwt.json()["message"]

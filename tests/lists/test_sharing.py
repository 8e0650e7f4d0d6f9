"""Sharing one list with one member through a django-guardian object permission."""

import pytest
from django.urls import reverse

from lists.models import ContactList, ContactListUserPermission, ListMembership
from tests.factories import ContactFactory, MembershipFactory, UserFactory

LISTS = reverse("list-list")


def shares_url(list_id) -> str:
    return reverse("list-shares", kwargs={"pk": list_id})


def members_url(list_id) -> str:
    return reverse("list-contacts", kwargs={"pk": list_id})


@pytest.fixture
def two_lists(api):
    return [api.post(LISTS, {"name": name}, format="json").json()["id"] for name in ("Shared", "Private")]


@pytest.mark.django_db
def test_a_shared_list_can_be_managed_by_a_viewer_and_no_other_list(api, tenant, user_client_for, two_lists):
    shared, private = two_lists
    viewer, user = user_client_for(tenant, "contacts_viewer")
    contact = ContactFactory(tenant=tenant)
    body = {"contact_ids": [str(contact.pk)]}
    assert viewer.post(members_url(shared), body, format="json").status_code == 403

    granted = api.post(shares_url(shared), {"email": user.email.upper()}, format="json")
    assert granted.status_code == 201, granted.json()
    assert granted.json() == {
        "user_id": str(user.pk), "email": user.email, "role": "contacts_viewer", "permission": "manage_list",
    }  # fmt: skip
    assert api.post(shares_url(shared), {"user_id": str(user.pk)}, format="json").status_code == 201  # no-op
    assert [s["user_id"] for s in api.get(shares_url(shared)).json()] == [str(user.pk)]

    assert viewer.post(members_url(shared), body, format="json").json() == {"changed": 1}
    renamed = viewer.patch(reverse("list-detail", kwargs={"pk": shared}), {"name": "Ours"}, format="json")
    assert renamed.status_code == 200 and renamed.json()["name"] == "Ours"
    remove = viewer.post(reverse("list-remove-contacts", kwargs={"pk": shared}), body, format="json")
    assert remove.json() == {"changed": 1}
    # Only that list; and sharing, deleting and creating still need the role.
    assert viewer.post(members_url(private), body, format="json").status_code == 403
    assert viewer.delete(reverse("list-detail", kwargs={"pk": shared})).status_code == 403
    assert viewer.post(shares_url(shared), {"user_id": str(user.pk)}, format="json").status_code == 403
    assert viewer.post(LISTS, {"name": "Mine"}, format="json").status_code == 403
    assert ListMembership.objects.unscoped().filter(contact_list_id=private).count() == 0
    merge_url = reverse("list-merge", kwargs={"pk": shared})
    assert viewer.post(merge_url, {"lists": [private]}, format="json").status_code == 200
    deleting = viewer.post(merge_url, {"lists": [private], "delete_merged": True}, format="json")
    assert deleting.status_code == 403
    assert ContactList.objects.unscoped().filter(pk=private).exists()

    unshare = api.delete(reverse("list-unshare", kwargs={"pk": shared, "user_id": user.pk}))
    assert unshare.status_code == 204
    assert viewer.post(members_url(shared), body, format="json").status_code == 403
    assert api.get(shares_url(shared)).json() == []
    again = api.delete(reverse("list-unshare", kwargs={"pk": shared, "user_id": user.pk}))
    assert again.status_code == 404


@pytest.mark.django_db
def test_only_members_of_the_tenant_can_be_shared_with(api, tenant, other_tenant, two_lists):
    shared, _ = two_lists
    outsider = MembershipFactory(tenant=other_tenant, user=UserFactory()).user
    for body, field in [
        ({"user_id": str(outsider.pk)}, "user_id"),
        ({"email": outsider.email}, "email"),
        ({}, "user_id"),
        ({"user_id": str(outsider.pk), "email": outsider.email}, "user_id"),
        ({"user_id": "nope"}, "user_id"),
    ]:
        response = api.post(shares_url(shared), body, format="json")
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["field"] == field
    assert ContactListUserPermission.objects.count() == 0


@pytest.mark.django_db
def test_a_grant_does_not_reach_another_tenant_or_survive_the_list(api, client_for, tenant, other_tenant,
                                                                   user_client_for, two_lists):  # fmt: skip
    shared, _ = two_lists
    viewer, user = user_client_for(tenant, "contacts_viewer")
    api.post(shares_url(shared), {"user_id": str(user.pk)}, format="json")
    # The same user as a viewer of another tenant cannot use the grant there (the list is not there).
    MembershipFactory(tenant=other_tenant, user=user, role="contacts_viewer")
    theirs = ContactFactory(tenant=other_tenant)
    response = viewer.post(
        members_url(shared),
        {"contact_ids": [str(theirs.pk)]},
        format="json",
        HTTP_X_TENANT_ID=str(other_tenant.pk),
    )
    assert response.status_code == 403  # no grant on a list of that tenant: the role's 403
    assert client_for(other_tenant).get(shares_url(shared)).status_code == 404
    api.delete(reverse("list-detail", kwargs={"pk": shared}))
    assert ContactListUserPermission.objects.count() == 0
    assert not ContactList.objects.unscoped().filter(pk=shared).exists()


@pytest.mark.django_db
def test_api_keys_never_use_object_grants(client_for, api, tenant, two_lists):
    shared, _ = two_lists
    viewer_key = client_for(tenant, "contacts_viewer")
    contact = ContactFactory(tenant=tenant)
    response = viewer_key.post(members_url(shared), {"contact_ids": [str(contact.pk)]}, format="json")
    assert response.status_code == 403

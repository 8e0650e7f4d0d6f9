"""Importing into a list adds members to it: contacts.import alone (a contacts_manager) may not choose
a list, unless the list is shared with the user; lists.manage may."""

import pytest
from django.urls import reverse

from contacts_service.roles import Role
from lists.models import ContactList, ListMembership
from tests.imports.conftest import job_url, upload


def _list(tenant, name="Newsletter") -> ContactList:
    return ContactList.objects.for_tenant(tenant).create(tenant=tenant, name=name)


@pytest.mark.django_db
def test_a_role_without_lists_manage_cannot_import_into_a_list(client_for, tenant):
    target = _list(tenant)
    manager = client_for(tenant, Role.CONTACTS_MANAGER)
    job = upload(manager, "Email\nann@example.com\n").json()
    response = manager.patch(job_url(job["id"]), {"list_id": str(target.pk)}, format="json")
    assert response.status_code == 403, response.json()
    assert "lists.manage" in response.json()["message"]
    assert manager.get(job_url(job["id"])).json()["list_id"] is None
    # the rest of its options still work
    assert manager.patch(job_url(job["id"]), {"on_match": "skip"}, format="json").status_code == 200


@pytest.mark.django_db
def test_the_list_shared_with_the_user_or_lists_manage_allows_it(client_for, user_client_for, api, tenant):
    target = _list(tenant)
    manager, user = user_client_for(tenant, Role.CONTACTS_MANAGER)
    job = upload(manager, "Email\nann@example.com\n").json()
    assert manager.patch(job_url(job["id"]), {"list_id": str(target.pk)}, format="json").status_code == 403
    shares = reverse("list-shares", kwargs={"pk": target.pk})
    assert api.post(shares, {"user_id": str(user.pk)}, format="json").status_code == 201
    response = manager.patch(job_url(job["id"]), {"list_id": str(target.pk)}, format="json")
    assert response.status_code == 200, response.json()
    owner_job = upload(api, "Email\nbob@example.com\n").json()
    assert api.patch(job_url(owner_job["id"]), {"list_id": str(target.pk)}, format="json").status_code == 200
    assert not ListMembership.objects.unscoped().exists()  # nothing imported yet


@pytest.mark.django_db
def test_an_unknown_list_is_still_the_400_naming_list_id(client_for, tenant, other_tenant):
    theirs = _list(other_tenant)
    manager = client_for(tenant, Role.CONTACTS_MANAGER)
    job = upload(manager, "Email\nann@example.com\n").json()
    response = manager.patch(job_url(job["id"]), {"list_id": str(theirs.pk)}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "list_id"


@pytest.mark.django_db
def test_a_list_unshared_before_the_start_is_not_filled(user_client_for, api, tenant):
    """The list was shared when the draft named it, and unshared before the start: the start is a 403
    and nothing joins the list (the check at PATCH alone let it through)."""
    target = _list(tenant)
    manager, user = user_client_for(tenant, Role.CONTACTS_MANAGER)
    shares = reverse("list-shares", kwargs={"pk": target.pk})
    assert api.post(shares, {"user_id": str(user.pk)}, format="json").status_code == 201
    job = upload(manager, "Email\nann@example.com\n").json()
    assert manager.patch(job_url(job["id"]), {"list_id": str(target.pk)}, format="json").status_code == 200
    unshare = reverse("list-unshare", kwargs={"pk": target.pk, "user_id": user.pk})
    assert api.delete(unshare).status_code == 204
    response = manager.post(job_url(job["id"], "start"))
    assert response.status_code == 403, response.json()
    assert manager.get(job_url(job["id"])).json()["status"] == "draft"
    assert not ListMembership.objects.unscoped().exists()
    # an owner may start it
    assert api.post(job_url(job["id"], "start")).status_code == 200

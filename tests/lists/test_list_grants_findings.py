"""Object grants on lists (django-guardian `lists.manage_list`), docs/api.md Lists, Sharing."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from contacts_service.models import Membership
from contacts_service.roles import Role
from tests.factories import MembershipFactory

LISTS = "/api/v1/lists/"


@pytest.mark.django_db
def test_shares_lists_only_members_holding_manage_list(api, tenant, user_client_for):
    """`GET /lists/{id}/shares/` answers `permission: "manage_list"` for any object permission on the
    list: one an operator gave in the admin's "Object permissions" page (view_contactlist here)
    shows as a share although it lets the member manage nothing."""
    viewer, user = user_client_for(tenant, Role.CONTACTS_VIEWER)
    contact_list = api.post(LISTS, {"name": "Newsletter"}, format="json").json()
    from lists.models import ContactList

    assign_perm(
        "lists.view_contactlist", user, ContactList.objects.for_tenant(tenant).get(pk=contact_list["id"])
    )

    assert viewer.patch(f"{LISTS}{contact_list['id']}/", {"name": "Mine"}, format="json").status_code == 403
    shares = api.get(f"{LISTS}{contact_list['id']}/shares/")
    assert shares.status_code == 200
    assert shares.json() == []


@pytest.mark.django_db
def test_a_member_removed_from_the_tenant_loses_the_lists_shared_with_them(api, tenant, user_client_for):
    """Removing a member leaves their manage_list grants behind (invisible: the shares list joins on
    memberships). Added back later with a read-only role, they manage the list again without anyone
    having shared it with them since."""
    viewer, user = user_client_for(tenant, Role.CONTACTS_VIEWER)
    contact_list = api.post(LISTS, {"name": "Newsletter"}, format="json").json()
    url = f"{LISTS}{contact_list['id']}/"
    assert api.post(f"{url}shares/", {"user_id": str(user.pk)}, format="json").status_code == 201

    Membership.objects.filter(tenant=tenant, user=user).delete()
    assert api.get(f"{url}shares/").json() == []
    MembershipFactory(tenant=tenant, user=user, role=Role.CONTACTS_VIEWER)

    assert api.get(f"{url}shares/").json() == []
    assert viewer.patch(url, {"name": "Taken over"}, format="json").status_code == 403

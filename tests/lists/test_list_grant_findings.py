"""Object grants on lists (docs/api.md, Lists: shares and Sharing). Found by a bug hunt: unsharing
removed every object permission of the user, and a membership moved to another tenant kept its shares."""

from __future__ import annotations

import pytest
from guardian.shortcuts import assign_perm

from contacts_service.models import Membership
from contacts_service.roles import Role
from lists.models import ContactList, ContactListUserPermission
from tests.factories import MembershipFactory

LISTS = "/api/v1/lists/"


@pytest.mark.django_db
def test_unsharing_a_member_the_list_is_not_shared_with_is_a_404_and_keeps_other_grants(
    api, tenant, user_client_for
):
    """docs/api.md: `DELETE /lists/{id}/shares/{user_id}/` stops sharing, "404 if it was not shared";
    and a list's shares are its manage_list grants only (an operator's other object permissions on
    the list, e.g. view_contactlist given in the admin's "Object permissions", are not shares:
    `GET .../shares/` answers `[]`).

    Expected: 404 and the operator's view_contactlist grant left alone.
    Actual: 204, and every object permission of that user on the list is deleted
    (lists.services.list_unshare deletes ContactListUserPermission rows of the user whatever their
    permission, where lists.selectors.list_shares counts manage_list only)."""
    _, user = user_client_for(tenant, Role.CONTACTS_VIEWER)
    list_id = api.post(LISTS, {"name": "Newsletter"}, format="json").json()["id"]
    assign_perm("lists.view_contactlist", user, ContactList.objects.for_tenant(tenant).get(pk=list_id))
    assert api.get(f"{LISTS}{list_id}/shares/").json() == []  # not shared

    response = api.delete(f"{LISTS}{list_id}/shares/{user.pk}/")

    assert response.status_code == 404, response.status_code
    assert ContactListUserPermission.objects.filter(user=user, content_object_id=list_id).count() == 1


@pytest.mark.django_db
def test_a_membership_moved_to_another_tenant_in_the_admin_drops_the_shares_of_the_old_tenant(
    api, tenant, other_tenant, user_client_for, operator_client
):
    """docs/api.md, Lists: "a member removed from the tenant loses every share of its lists". An
    operator who edits the membership in the admin (Memberships, or the tenant's inline) so it names
    another tenant (or another user) removes the member from the tenant as surely as deleting it.

    Expected: the manage_list grants on the old tenant's lists go; added back later as a
    contacts_viewer, the user cannot rename the list (403).
    Actual: the grants stay (lists.signals.grants_of_a_removed_member only listens to post_delete of
    a Membership, not to a save that changes its tenant or user), so the user, added back as a
    viewer, manages the list again (200) without anyone having shared it anew."""
    viewer, user = user_client_for(tenant, Role.CONTACTS_VIEWER)
    list_id = api.post(LISTS, {"name": "Newsletter"}, format="json").json()["id"]
    assert api.post(f"{LISTS}{list_id}/shares/", {"user_id": str(user.pk)}, format="json").status_code == 201
    membership = Membership.objects.get(tenant=tenant, user=user)

    moved = operator_client.post(
        f"/admin/contacts_service/membership/{membership.pk}/change/",
        {"user": str(user.pk), "tenant": str(other_tenant.pk), "role": Role.CONTACTS_VIEWER},
    )
    assert moved.status_code == 302
    assert not Membership.objects.filter(tenant=tenant, user=user).exists()  # no longer a member

    MembershipFactory(tenant=tenant, user=user, role=Role.CONTACTS_VIEWER)  # added back, read-only
    response = viewer.patch(
        f"{LISTS}{list_id}/", {"name": "Taken over"}, format="json", HTTP_X_TENANT_ID=str(tenant.pk)
    )

    assert response.status_code == 403, response.status_code

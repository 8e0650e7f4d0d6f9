"""Authentication, rate limits and the operators' admin at their edges (found by a bug hunt): an
unverified token email is not kept, a role 403 inside an action is not charged, the admin answers a
lookup PostgreSQL refuses with ?e=1, and finds a key by the prefix it shows."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.urls import reverse

from contacts_service import services
from contacts_service.roles import Role
from tests.contacts_service.test_auth import bearer

ME = reverse("me")


def plans(**per_plan) -> dict[str, dict[str, int]]:
    base = {"tenant": 1_000, "api_key": 1_000, "user": 1_000, "expensive": 1_000}
    return {name: {**base, **per_plan.get(name, {})} for name in ("free", "standard", "enterprise")}


@pytest.mark.django_db
def test_an_unverified_jwt_email_does_not_make_its_bearer_the_owner_tenant_create_names():
    """A token merely claiming boss@acme.test (not verified) never gets the tenant `tenant_create --owner
    boss@acme.test` creates later; the verified owner does (the cached user kept the unverified email and
    tenant_create made its bearer the owner)."""
    squatter = bearer("squatter-subject", "boss@acme.test")  # no email_verified claim
    assert squatter.get(ME).status_code == 403  # first sight: cached, member of nothing yet

    services.tenant_create(name="Acme", owner_email="boss@acme.test")

    real_owner = bearer("real-owner-subject", "boss@acme.test", email_verified=True)
    real = real_owner.get(ME)
    stolen = squatter.get(ME)
    assert (stolen.status_code, real.status_code) == (403, 200), (stolen.content, real.content)


@pytest.mark.django_db
def test_admin_api_key_search_finds_a_key_by_the_prefix_the_admin_shows(operator_client, tenant):
    """The admin's key search finds a key by csk_<prefix>, as the list shows it (only the bare prefix did)."""
    issued = services.apikey_create(tenant=tenant, name="reporting-key", role=Role.CONTACTS_VIEWER)
    url = reverse("admin:contacts_service_apikey_changelist")

    response = operator_client.get(url, {"q": issued.api_key.display_prefix})

    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [issued.api_key]


@pytest.mark.django_db
def test_a_403_for_a_missing_role_permission_is_not_charged_to_the_rate_limits(
    client_for, tenant, user_client_for
):
    """A member whose role lacks lists.manage, merging into a list shared with them with delete_merged, gets
    the 403 before the rate limits charge anything: the tenant's one expensive start of the minute is
    still there for the owner (the 403 came from inside the action, after the charge)."""
    owner = client_for(tenant, Role.OWNER)
    target = owner.post("/api/v1/lists/", {"name": "Target"}, format="json").json()["id"]
    other = owner.post("/api/v1/lists/", {"name": "Other"}, format="json").json()["id"]
    viewer, user = user_client_for(tenant, Role.CONTACTS_VIEWER)
    shared = owner.post(f"/api/v1/lists/{target}/shares/", {"user_id": str(user.pk)}, format="json")
    assert shared.status_code == 201, shared.content

    with override_settings(RATE_LIMIT_PLANS=plans(standard={"expensive": 1})):
        refused = viewer.post(
            f"/api/v1/lists/{target}/merge/", {"lists": [other], "delete_merged": True}, format="json"
        )
        assert refused.status_code == 403, refused.content
        assert "lists.manage" in refused.json()["message"]

        export = owner.post(reverse("export-list"), {}, format="json")
        assert export.status_code == 201, (export.status_code, export.content)


@pytest.mark.django_db
def test_an_invalid_regex_lookup_in_an_admin_changelist_url_is_not_a_500(operator_client, tenant):
    """`?name__regex=(` on a changelist is the admin's usual answer to a lookup it cannot use, not a 500
    (PostgreSQL refused the pattern while the page counted its rows)."""
    services.apikey_create(tenant=tenant, name="reporting-key", role=Role.CONTACTS_VIEWER)
    operator_client.raise_request_exception = False

    response = operator_client.get(reverse("admin:contacts_service_apikey_changelist"), {"name__regex": "("})

    assert response.status_code < 500, response.status_code

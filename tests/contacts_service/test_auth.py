"""Credentials, tenant choice and roles."""

import datetime as dt

import jwt
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from contacts_service import services
from contacts_service.models import ApiKey
from contacts_service.roles import Role
from tests.factories import ContactFactory, MembershipFactory, UserFactory

LIST = reverse("contact-list")
ME = reverse("me")


def bearer(sub: str, email: str = "", **overrides) -> APIClient:
    claims = {
        "sub": sub,
        "email": email,
        "aud": settings.JWT_AUDIENCE,
        "iss": settings.JWT_ISSUER,
        "exp": timezone.now() + dt.timedelta(minutes=5),
        **overrides,
    }
    key = overrides.pop("_key", settings.JWT_VERIFYING_KEY)
    claims.pop("_key", None)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt.encode(claims, key, algorithm='HS256')}")
    return client


@pytest.mark.django_db
def test_an_audience_is_not_checked_while_jwt_audience_is_unset(tenant, settings):
    """operations.md: JWT_AUDIENCE empty means not checked; a token with any `aud` then passes (PyJWT
    refused every token carrying one), and with it set a wrong `aud` is still a 401."""
    user = UserFactory(auth_subject="sub-aud")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    wrong = bearer("sub-aud", aud="another-service")
    assert wrong.get(ME).status_code == 401
    settings.JWT_AUDIENCE = None
    assert wrong.get(ME).status_code == 200
    assert bearer("sub-aud", aud=None).get(ME).status_code == 200


@pytest.mark.django_db
def test_no_or_bad_credentials_are_401_with_a_challenge(anon, tenant):
    response = anon.get(LIST)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Api-Key")
    for header in ("Api-Key nonsense", "Api-Key csk_abc_wrongsecret", "Bearer not.a.jwt", "Api-Key "):
        anon.credentials(HTTP_AUTHORIZATION=header)
        assert anon.get(LIST).status_code == 401, header


@pytest.mark.django_db
def test_a_refused_bearer_token_gets_the_bearer_challenge(anon, tenant):
    for header, challenge in (
        ("Bearer not.a.jwt", 'Bearer realm="api"'),
        ("Api-Key csk_abc_wrongsecret", 'Api-Key realm="api"'),
        ("Token x", 'Api-Key realm="api"'),
    ):
        anon.credentials(HTTP_AUTHORIZATION=header)
        response = anon.get(LIST)
        assert response.status_code == 401, header
        assert response["WWW-Authenticate"] == challenge, header
    expired = bearer("sub-expired", exp=timezone.now() - dt.timedelta(hours=1))
    response = expired.get(ME)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


@pytest.mark.django_db
def test_api_key_is_stored_hashed_with_a_visible_prefix_and_can_be_revoked(client_for, tenant):
    client = client_for(tenant, Role.CONTACTS_VIEWER)
    api_key = client.api_key
    raw = client._credentials["HTTP_AUTHORIZATION"].split(" ", 1)[1]
    assert raw.startswith(f"csk_{api_key.prefix}_")
    stored = ApiKey.objects.get(pk=api_key.pk)
    assert raw not in (stored.key_hash, stored.prefix) and len(stored.key_hash) == 64
    assert client.get(LIST).status_code == 200
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None

    services.apikey_revoke(tenant=tenant, prefix_or_id=api_key.display_prefix)
    response = client.get(LIST)
    assert response.status_code == 401 and "revoked" in response.json()["message"]


@pytest.mark.django_db
def test_expired_key_is_refused(tenant):
    issued = services.apikey_create(
        tenant=tenant, name="old", role=Role.OWNER, expires_at=timezone.now() + dt.timedelta(hours=1)
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.key}")
    assert client.get(LIST).status_code == 200
    ApiKey.objects.filter(pk=issued.api_key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client.get(LIST)
    assert response.status_code == 401 and "expired" in response.json()["message"]


@pytest.mark.django_db
def test_api_key_naming_another_tenant_in_the_header_is_403(client_for, tenant, other_tenant):
    ContactFactory(tenant=other_tenant)
    response = client_for(tenant).get(LIST, HTTP_X_TENANT_ID=str(other_tenant.pk))
    assert response.status_code == 403
    assert client_for(tenant).get(LIST, HTTP_X_TENANT_ID=str(tenant.pk)).status_code == 200


@pytest.mark.django_db
def test_jwt_user_picks_a_tenant_of_theirs_with_x_tenant_id(tenant, other_tenant):
    user = UserFactory(auth_subject="auth-123")
    MembershipFactory(user=user, tenant=tenant, role=Role.MARKETING_MANAGER)
    MembershipFactory(user=user, tenant=other_tenant, role=Role.CONTACTS_VIEWER)
    ContactFactory(tenant=tenant, email="in-acme@example.com")
    client = bearer("auth-123")

    me = client.get(ME, HTTP_X_TENANT_ID=str(tenant.pk)).json()
    assert me["tenant_id"] == str(tenant.pk) and me["role"] == "marketing_manager"
    assert "lists.manage" in me["permissions"] and "contacts.create" not in me["permissions"]
    assert me["actor"]["type"] == "user" and me["actor"]["id"] == str(user.pk)
    emails = [c["email"] for c in client.get(LIST, HTTP_X_TENANT_ID=str(tenant.pk)).json()["results"]]
    assert emails == ["in-acme@example.com"]
    assert client.get(LIST, HTTP_X_TENANT_ID=str(other_tenant.pk)).json()["count"] == 0
    # two memberships and no header: the caller must choose
    assert client.get(LIST).status_code == 403
    bad = client.get(LIST, HTTP_X_TENANT_ID="acme")
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"] == "X-Tenant-ID"


@pytest.mark.django_db
def test_jwt_user_naming_a_tenant_they_do_not_belong_to_is_403(tenant, other_tenant):
    user = UserFactory(auth_subject="auth-9")
    MembershipFactory(user=user, tenant=tenant, role=Role.OWNER)
    ContactFactory(tenant=other_tenant, email="secret@globex.com")
    response = bearer("auth-9").get(LIST, HTTP_X_TENANT_ID=str(other_tenant.pk))
    assert response.status_code == 403
    assert "secret@globex.com" not in response.content.decode()
    # a single membership is used when no header is sent
    assert bearer("auth-9").get(ME).json()["tenant_id"] == str(tenant.pk)


@pytest.mark.django_db
def test_unknown_jwt_subject_becomes_a_cached_user_without_any_tenant(db):
    response = bearer("new-sub", email="New@Example.com").get(LIST)
    assert response.status_code == 403
    assert "not a member" in response.json()["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": timezone.now() - dt.timedelta(minutes=5)},
        {"aud": "another-service"},
        {"iss": "https://evil.test"},
        {"_key": "a-different-secret-key-0123456789abcdef0123"},
    ],
)
def test_expired_foreign_or_forged_jwt_is_401(tenant, overrides):
    user = UserFactory(auth_subject="auth-1")
    MembershipFactory(user=user, tenant=tenant)
    assert bearer("auth-1", **overrides).get(LIST).status_code == 401


@pytest.mark.django_db
def test_jwt_signed_with_none_algorithm_is_refused(tenant):
    user = UserFactory(auth_subject="auth-2")
    MembershipFactory(user=user, tenant=tenant)
    token = jwt.encode(
        {"sub": "auth-2", "exp": timezone.now() + dt.timedelta(minutes=5)}, None, algorithm="none"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get(LIST).status_code == 401


@pytest.mark.django_db
def test_session_login_works_for_the_browsable_api(tenant):
    user = UserFactory()
    user.set_password("pw-123456")
    user.save()
    MembershipFactory(user=user, tenant=tenant, role=Role.CONTACTS_VIEWER)
    client = APIClient()
    assert client.login(username=user.username, password="pw-123456")
    assert client.get(LIST, HTTP_X_TENANT_ID=str(tenant.pk)).status_code == 200
    html = client.get(LIST, HTTP_ACCEPT="text/html", HTTP_X_TENANT_ID=str(tenant.pk))
    assert html.status_code == 200 and b"Contact" in html.content


@pytest.mark.django_db
def test_api_keys_endpoint_issues_lists_and_revokes_keys_for_owners_only(client_for, tenant):
    owner = client_for(tenant, Role.OWNER)
    created = owner.post(
        reverse("api-key-list"), {"name": "reporting", "role": "contacts_viewer"}, format="json"
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key.startswith(created.json()["prefix"] + "_")
    listed = owner.get(reverse("api-key-list")).json()["results"]
    assert all("key" not in item for item in listed)
    assert "reporting" in [item["name"] for item in listed]

    reporting = APIClient()
    reporting.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert reporting.get(LIST).status_code == 200
    assert (
        reporting.post(reverse("api-key-list"), {"name": "x", "role": "owner"}, format="json").status_code
        == 403
    )

    assert owner.delete(reverse("api-key-detail", kwargs={"pk": created.json()["id"]})).status_code == 204
    assert reporting.get(LIST).status_code == 401
    bad_role = owner.post(reverse("api-key-list"), {"name": "x", "role": "god"}, format="json")
    assert bad_role.status_code == 400 and bad_role.json()["errors"][0]["field"] == "role"


def test_role_matrix_matches_the_design():
    from contacts_service.roles import ROLE_PERMISSIONS

    assert ROLE_PERMISSIONS["contacts_viewer"] == {"contacts.view"}
    assert ROLE_PERMISSIONS["marketing_manager"] == {
        "contacts.view",
        "lists.manage",
        "tags.manage",
        "contacts.export",
    }
    assert {"contacts.create", "contacts.update", "contacts.delete", "contacts.import", "consent.manage"} <= (
        ROLE_PERMISSIONS["contacts_manager"]
    )
    assert "api_keys.manage" not in ROLE_PERMISSIONS["contacts_manager"]
    assert {"events.view", "api_keys.manage", "lists.manage"} <= ROLE_PERMISSIONS["owner"]

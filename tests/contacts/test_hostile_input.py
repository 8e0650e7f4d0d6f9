"""Inputs found by a hostile review: each once gave a 500 or broke a rule; each must be a clean 4xx."""

import datetime as dt

import jwt
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import Contact
from contacts_service import services
from contacts_service.models import User
from events.models import OutboxEvent
from tests.factories import ContactFactory

LIST = reverse("contact-list")


def detail(contact_id) -> str:
    return reverse("contact-detail", kwargs={"pk": contact_id})


@pytest.mark.django_db
def test_longest_names_derive_a_display_name_that_fits(api):
    created = api.post(
        LIST, {"email": "a@b.co", "first_name": "a" * 150, "last_name": "b" * 150}, format="json"
    )
    assert created.status_code == 201
    assert len(created.json()["display_name"]) == 300
    patched = api.patch(detail(created.json()["id"]), {"last_name": "c" * 150}, format="json")
    assert patched.status_code == 200


@pytest.mark.django_db
def test_verifying_a_long_identifier_is_recorded(api, tenant):
    contact = ContactFactory(tenant=tenant)
    url = reverse("contact-identifier-list", kwargs={"contact_pk": contact.pk})
    identifier = api.post(url, {"channel": "push", "value": "t" * 512}, format="json").json()
    response = api.patch(
        reverse("contact-identifier-detail", kwargs={"contact_pk": contact.pk, "pk": identifier["id"]}),
        {"verified": True},
        format="json",
    )
    assert response.status_code == 200 and response.json()["verified"] is True
    [change, *_] = api.get(reverse("contact-history", kwargs={"pk": contact.pk})).json()["results"]
    assert change["field"] == "identifiers.push.verified"
    assert change["new_value"] == {"value": "t" * 512, "verified": True}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        "[" * 5000 + "]" * 5000,
        '{"email": "a@b.co", "\\ud800": 1}',
        '{"email": "a@b.co", "attributes": {"\\ud800": 1}}',
        '{"email": "a@b.co", "first_name": "\\udfff"}',
    ],
)
def test_deep_nesting_and_lone_surrogates_are_parse_errors(api, body):
    response = api.generic("POST", LIST, body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert OutboxEvent.objects.unscoped().count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["isnull", "contains", "exact", "in", "has_keys", "startswith"])
def test_attribute_keys_named_like_query_lookups_are_reserved(api, key):
    response = api.post(
        reverse("attribute-definition-list"),
        {"key": key, "label": key, "type": "choice", "choices": ["red", "blue"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"][0] == {
        "field": "key", "code": "reserved", "message": f"{key!r} is reserved (a query operator name).",
    }  # fmt: skip


@pytest.mark.django_db
def test_empty_patch_of_an_attribute_definition_is_400(api):
    definition = api.post(
        reverse("attribute-definition-list"), {"key": "k", "label": "K", "type": "string"}, format="json"
    ).json()
    response = api.patch(
        reverse("attribute-definition-detail", kwargs={"pk": definition["id"]}), {}, format="json"
    )
    assert response.status_code == 400


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"email": None}, {"email": "", "external_id": ""}, {"email": "  "}])
def test_patch_cannot_strip_a_contact_of_every_identity(api, tenant, body):
    contact = api.post(LIST, {"email": "only@example.com"}, format="json").json()
    response = api.patch(detail(contact["id"]), body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "email"
    assert Contact.objects.for_tenant(tenant).get(pk=contact["id"]).email == "only@example.com"
    # swapping one identity for another is fine
    assert (
        api.patch(detail(contact["id"]), {"email": None, "external_id": "x-1"}, format="json").status_code
        == 200
    )


def bearer(claims: dict) -> APIClient:
    base = {
        "aud": settings.JWT_AUDIENCE,
        "iss": settings.JWT_ISSUER,
        "exp": timezone.now() + dt.timedelta(minutes=5),
    }
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION="Bearer "
        + jwt.encode({**base, **claims}, settings.JWT_VERIFYING_KEY, algorithm="HS256")
    )
    return client


@pytest.mark.django_db
def test_platform_login_links_to_the_cli_created_owner_only_with_a_verified_email(db):
    created = services.tenant_create(name="Acme", owner_email="owner@acme.test")
    unverified = bearer({"sub": "sub-1", "email": "Owner@Acme.test"}).get("/api/v1/me/")
    assert unverified.status_code == 403  # a separate, tenant-less user; no 500, no takeover
    assert User.objects.get(auth_subject="sub-1").email == ""
    verified = bearer({"sub": "sub-2", "email": "Owner@Acme.test", "email_verified": True}).get("/api/v1/me/")
    assert verified.status_code == 200
    assert verified.json()["tenant_id"] == str(created.tenant.pk)
    assert User.objects.get(pk=created.owner.pk).auth_subject == "sub-2"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "x" * 300},
        {"sub": "bad\x00sub"},
        {"sub": "ok-sub", "email": "nul\x00@example.com"},
    ],
)
def test_odd_jwt_claims_are_401_or_handled_never_500(db, claims):
    response = bearer(claims).get("/api/v1/me/")
    assert response.status_code in (401, 403)


@pytest.mark.django_db
def test_long_subjects_sharing_a_prefix_are_two_users(db):
    prefix = "p" * 200
    assert bearer({"sub": prefix + "a"}).get("/api/v1/me/").status_code == 403
    assert bearer({"sub": prefix + "b"}).get("/api/v1/me/").status_code == 403
    assert User.objects.filter(auth_subject__startswith=prefix).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", ["Api-Key csk_\x00_abcdefghijklmnopqrstuvwxyz", "Api-Key csk_ABC_short", "Api-Key csk__x"]
)
def test_malformed_api_keys_are_401(anon, header):
    anon.credentials(HTTP_AUTHORIZATION=header)
    assert anon.get(LIST).status_code == 401


@pytest.mark.django_db
def test_api_key_expiring_in_the_past_is_refused(api):
    response = api.post(
        reverse("api-key-list"),
        {"name": "old", "role": "owner", "expires_at": "2001-01-01T00:00:00Z"},
        format="json",
    )
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "expires_at"

"""Hostile and odd input to auth, roles, consent, double opt-in, attribute definitions and the admin:
every one a clear 4xx or the documented answer, never a 500."""

from __future__ import annotations

import datetime as dt
import uuid

import jwt
import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from consent.models import ConsentRecord, ConsentState
from contacts_service import services
from contacts_service.roles import Role
from tests.factories import ContactFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def consents_url(contact_id) -> str:
    return reverse("contact-consents", kwargs={"contact_pk": contact_id})


def confirm_url(token: str) -> str:
    return reverse("consent-confirm", kwargs={"token": token})


@pytest.fixture
def contact(tenant):
    return ContactFactory(tenant=tenant, email="ann@example.com")


def token_for(claims: dict) -> str:
    base = {
        "aud": settings.JWT_AUDIENCE,
        "iss": settings.JWT_ISSUER,
        "exp": timezone.now() + dt.timedelta(minutes=5),
    }
    return jwt.encode({**base, **claims}, settings.JWT_VERIFYING_KEY, algorithm="HS256")


# --- auth -------------------------------------------------------------------------------------


# --- consent ----------------------------------------------------------------------------------


def test_consent_ip_address_with_ipv6_zone_is_400_not_500(api, contact):
    response = api.post(
        consents_url(contact.pk),
        {"channel": "email", "purpose": "marketing", "status": "granted", "ip_address": "fe80::1%eth0"},
        format="json",
    )
    assert response.status_code in (201, 400), response.content
    if response.status_code == 400:
        assert response.json()["errors"][0]["field"] == "ip_address"


# --- admin ------------------------------------------------------------------------------------


def record(api, contact, **body):
    data = {"channel": "email", "purpose": "marketing", "status": "granted", **body}
    return api.post(consents_url(contact.pk), data, format="json")


def test_consent_proof_with_an_overflowing_number_is_400_not_500(api, contact):
    response = api.post(
        consents_url(contact.pk),
        '{"channel": "email", "purpose": "marketing", "status": "granted", "proof": {"x": 1e400}}',
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert ConsentRecord.objects.for_tenant(contact.tenant).count() == 0


def test_double_opt_in_confirm_once_then_409(api, contact, anon):
    pending = record(api, contact, status="pending").json()
    token = pending["confirmation"]["token"]
    first = anon.get(confirm_url(token))
    assert first.status_code == 200, first.content
    second = anon.get(confirm_url(token))
    assert second.status_code == 409, second.content
    assert second.json()["code"] == "token_used"


def test_double_opt_in_after_revocation_is_superseded(api, contact, anon):
    token = record(api, contact, status="pending").json()["confirmation"]["token"]
    assert record(api, contact, status="revoked").status_code == 201
    response = anon.get(confirm_url(token))
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "token_superseded"
    state = ConsentState.objects.for_tenant(contact.tenant).get(contact=contact)
    assert state.status == "revoked"


def test_tampered_token_is_400(api, contact, anon):
    token = record(api, contact, status="pending").json()["confirmation"]["token"]
    for bad in (token[:-2] + "xx", "garbage", "a:b:c", token + ":x", "é" * 10):
        response = anon.get(confirm_url(bad))
        assert response.status_code == 400, (bad, response.content)
        assert response.json()["code"] == "invalid_token"


def test_token_of_deleted_contact_is_404(api, contact, anon):
    token = record(api, contact, status="pending").json()["confirmation"]["token"]
    assert api.delete(reverse("contact-detail", args=[contact.pk])).status_code == 204
    assert anon.get(confirm_url(token)).status_code == 404


def test_pending_over_pending_then_old_token(api, contact, anon):
    t1 = record(api, contact, status="pending").json()["confirmation"]["token"]
    t2 = record(api, contact, status="pending").json()["confirmation"]["token"]
    assert anon.get(confirm_url(t2)).status_code == 200
    r = anon.get(confirm_url(t1))
    assert r.status_code in (200, 409), r.content


# --- JWT ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": 123},
        {"sub": ["a"]},
        {"sub": {"a": 1}},
        {"sub": "x", "email": {"a": 1}},
        {"sub": "x", "email": ["a@b.c"], "email_verified": True},
        {"sub": "x", "email": 5},
        {"sub": "x", "exp": "soon"},
        {"sub": "x", "aud": "other"},
        {"sub": "x", "iss": "other"},
        {"sub": "x", "nbf": "later"},
        {"sub": "x", "iat": "then"},
        {"sub": "\x00x"},
        {"sub": "x" * 300},
        {"sub": ""},
    ],
)
def test_odd_jwts_are_401_or_403_never_500(claims, tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(claims)}")
    response = client.get(reverse("me"))
    assert response.status_code in (401, 403), (claims, response.status_code, response.content)


def test_jwt_email_of_existing_user_with_a_different_case(tenant):
    owner = UserFactory(email="Owner@Example.com", username="owner1")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)
    client = APIClient()
    token = token_for({"sub": "abc", "email": "owner@example.com", "email_verified": True})
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = client.get(reverse("me"))
    assert response.status_code == 200, response.content


def test_jwt_unverified_email_of_existing_user_gets_a_separate_user(tenant):
    owner = UserFactory(email="owner@example.com", username="owner1")
    MembershipFactory(tenant=tenant, user=owner, role=Role.OWNER)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for({'sub': 'abc', 'email': 'owner@example.com'})}")
    response = client.get(reverse("me"))
    assert response.status_code == 403, response.content


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "Bearer a.b.c",
        "Api-Key",
        "Api-Key ",
        "Api-Key csk_",
        "Api-Key csk_abc_short",
        "Api-Key csk_abcdefghij_" + "A" * 40,
        "Basic Zm9vOmJhcg==",
        "Bearer \x7f",
        "Token x",
        "Api-Key csk_ABC_" + "a" * 20,
        "Api-Key  csk_abc_" + "a" * 20,
        "Bearer " + "a" * 5000,
    ],
)
def test_malformed_authorization_headers_are_401(header, tenant):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(reverse("me"))
    assert response.status_code == 401, (header, response.content)
    assert "WWW-Authenticate" in response


def test_revoked_key_is_401(client_for, tenant):
    c = client_for(tenant, Role.OWNER)
    services.apikey_revoke(tenant=tenant, prefix_or_id=c.api_key.prefix)
    assert c.get(reverse("me")).status_code == 401


def test_key_of_inactive_tenant_is_401(client_for, tenant):
    c = client_for(tenant, Role.OWNER)
    tenant.is_active = False
    tenant.save()
    assert c.get(reverse("me")).status_code == 401


def test_api_key_expires_at_odd_values(api):
    for value in ("2020-01-01T00:00:00Z", "not a date", 5, "9999-12-31T23:59:59Z", "0001-01-01T00:00:00"):
        r = api.post(
            reverse("api-key-list"), {"name": "k", "role": "owner", "expires_at": value}, format="json"
        )
        assert r.status_code in (201, 400), (value, r.status_code, r.content)


def test_revoke_other_tenants_key_is_404(client_for, tenant, other_tenant):
    mine = client_for(tenant, Role.OWNER)
    theirs = client_for(other_tenant, Role.OWNER)
    r = mine.delete(reverse("api-key-detail", args=[theirs.api_key.pk]))
    assert r.status_code == 404
    assert theirs.get(reverse("me")).status_code == 200


# --- admin actions -----------------------------------------------------------------------------


def test_admin_revoke_action(operator_client, client_for, tenant):
    c = client_for(tenant, Role.CONTACTS_VIEWER)
    url = reverse("admin:contacts_service_apikey_changelist")
    r = operator_client.post(url, {"action": "revoke", "_selected_action": [str(c.api_key.pk)]})
    assert r.status_code == 302, r.status_code
    assert c.get(reverse("me")).status_code == 401


def test_admin_tag_and_list_delete(operator_client, api, tenant, contact):
    tag = api.post(reverse("tag-list"), {"name": "VIP"}, format="json").json()
    lst = api.post(reverse("list-list"), {"name": "L1"}, format="json").json()
    api.post(reverse("list-contacts", args=[lst["id"]]), {"contact_ids": [str(contact.pk)]}, format="json")
    api.post(reverse("contact-add-tags", args=[contact.pk]), {"tags": ["VIP"]}, format="json")
    for name, pk in (("tags_tag", tag["id"]), ("lists_contactlist", lst["id"])):
        url = reverse(f"admin:{name}_delete", args=[pk])
        g = operator_client.get(url)
        assert g.status_code in (200, 302, 403), (name, g.status_code)
        if g.status_code == 200:
            r = operator_client.post(url, {"post": "yes"})
            assert r.status_code in (302, 403), (name, r.status_code)


def test_admin_attribute_definition_and_purpose_changelists_and_pages(operator_client, api, tenant, contact):
    d = api.post(
        reverse("attribute-definition-list"),
        {"key": "plan", "label": "Plan", "type": "string"},
        format="json",
    )
    assert d.status_code == 201, d.content
    for name in (
        "consent_consentpurpose",
        "consent_consentrecord",
        "consent_consentstate",
        "tags_tag",
        "lists_contactlist",
        "contacts_merge",
        "contacts_duplicatecandidate",
        "events_processedmessage",
    ):
        assert operator_client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    url = reverse("admin:contacts_attributedefinition_change", args=[d.json()["id"]])
    assert operator_client.get(url).status_code == 200
    assert record(api, contact).status_code == 201
    rec = ConsentRecord.objects.for_tenant(tenant).first()
    st = ConsentState.objects.for_tenant(tenant).first()
    assert (
        operator_client.get(reverse("admin:consent_consentrecord_change", args=[rec.pk])).status_code == 200
    )
    assert operator_client.get(reverse("admin:consent_consentstate_change", args=[st.pk])).status_code == 200


# --- attribute definitions ---------------------------------------------------------------------

ATTR = "attribute-definition-list"


@pytest.mark.parametrize(
    "body",
    [
        {"key": "contains", "label": "x", "type": "string"},
        {"key": "has_key", "label": "x", "type": "string"},
        {"key": "exact", "label": "x", "type": "string"},
        {"key": "isnull", "label": "x", "type": "string"},
        {"key": "Plan", "label": "x", "type": "string"},
        {"key": "plän", "label": "x", "type": "string"},
        {"key": "ß", "label": "x", "type": "string"},
        {"key": "a" * 65, "label": "x", "type": "string"},
        {"key": "a" * 5000, "label": "x", "type": "string"},
        {"key": "1plan", "label": "x", "type": "string"},
        {"key": "", "label": "x", "type": "string"},
        {"key": 5, "label": "x", "type": "string"},
        {"key": ["a"], "label": "x", "type": "string"},
        {"key": "plan", "label": "x" * 151, "type": "string"},
        {"key": "plan", "label": "x", "type": "choice"},
        {"key": "plan", "label": "x", "type": "choice", "choices": []},
        {"key": "plan", "label": "x", "type": "choice", "choices": ["a", "a"]},
        {"key": "plan", "label": "x", "type": "choice", "choices": [""]},
        {"key": "plan", "label": "x", "type": "choice", "choices": [1]},
        {"key": "plan", "label": "x", "type": "choice", "choices": "ab"},
        {"key": "plan", "label": "x", "type": "choice", "choices": {"a": 1}},
        {"key": "plan", "label": "x", "type": "choice", "choices": ["x" * 2001]},
        {"key": "plan", "label": "x", "type": "string", "choices": ["a"]},
        {"key": "plan", "label": "x", "type": "bogus"},
        {"key": "plan", "label": "x", "type": "string", "required": "yes"},
        {"key": "plan", "label": "x", "type": "string", "required": None},
        {"key": "plan", "label": "x", "type": "string", "description": None},
        {"key": "plan", "label": "x\x00", "type": "string"},
        {"key": "plan", "label": "x", "type": "choice", "choices": ["a\x00"]},
        {"key": "plan", "label": "x", "type": "choice", "choices": ["a"] * 501},
        {"key": "plan", "label": "x", "type": "string", "id": "x"},
        {"key": "plan", "label": "x", "type": "choice", "choices": [None]},
    ],
)
def test_odd_attribute_definitions_are_400(api, body):
    response = api.post(reverse(ATTR), body, format="json")
    assert response.status_code == 400, (body, response.status_code, response.content)


def test_attribute_key_unique_and_trim(api):
    assert (
        api.post(reverse(ATTR), {"key": "plan", "label": "x", "type": "string"}, format="json").status_code
        == 201
    )
    r = api.post(reverse(ATTR), {"key": "plan", "label": "y", "type": "number"}, format="json")
    assert r.status_code == 400, r.content
    r = api.post(reverse(ATTR), {"key": " plan ", "label": "y", "type": "number"}, format="json")
    assert r.status_code == 400, r.content


def attr_detail(pk):
    return reverse("attribute-definition-detail", args=[pk])


def test_attribute_type_change_with_values_is_refused(api, tenant):
    d = api.post(reverse(ATTR), {"key": "score", "label": "S", "type": "number"}, format="json").json()
    c = api.post(reverse("contact-list"), {"email": "a@x.com", "attributes": {"score": 5}}, format="json")
    assert c.status_code == 201, c.content
    for body in (
        {"type": "string"},
        {"type": "choice", "choices": ["a"]},
        {"key": "points"},
        {"type": 5},
        {"choices": ["a"]},
        {"label": None},
        {"label": ""},
        {},
        {"required": "x"},
        {"choices": None},
    ):
        r = api.patch(attr_detail(d["id"]), body, format="json")
        assert r.status_code == 400, (body, r.status_code, r.content)
    r = api.patch(attr_detail(d["id"]), {"type": "number", "label": "Score"}, format="json")
    assert r.status_code == 200, r.content


def test_attribute_made_required_when_contacts_lack_it(api, tenant):
    d = api.post(
        reverse(ATTR),
        {"key": "plan", "label": "P", "type": "choice", "choices": ["free", "pro"]},
        format="json",
    ).json()
    c = api.post(reverse("contact-list"), {"email": "a@x.com"}, format="json").json()
    c2 = api.post(
        reverse("contact-list"), {"email": "b@x.com", "attributes": {"plan": "pro"}}, format="json"
    ).json()
    r = api.patch(attr_detail(d["id"]), {"required": True}, format="json")
    assert r.status_code == 200, r.content
    # unrelated update of a contact created before: allowed
    r = api.patch(reverse("contact-detail", args=[c["id"]]), {"city": "Lyon"}, format="json")
    assert r.status_code == 200, r.content
    # removing a required attribute: refused
    r = api.patch(reverse("contact-detail", args=[c2["id"]]), {"attributes": {"plan": None}}, format="json")
    assert r.status_code == 400, r.content
    # removing a used choice: refused
    r = api.patch(attr_detail(d["id"]), {"choices": ["free"]}, format="json")
    assert r.status_code == 400, r.content
    # new contact must have it
    r = api.post(reverse("contact-list"), {"email": "c@x.com"}, format="json")
    assert r.status_code == 400, r.content


def test_attribute_delete_in_use_is_409_also_soft_deleted(api, tenant):
    d = api.post(reverse(ATTR), {"key": "plan", "label": "P", "type": "string"}, format="json").json()
    c = api.post(
        reverse("contact-list"), {"email": "a@x.com", "attributes": {"plan": "x"}}, format="json"
    ).json()
    assert api.delete(reverse("contact-detail", args=[c["id"]])).status_code == 204
    r = api.delete(attr_detail(d["id"]))
    assert r.status_code == 409, r.content
    assert r.json()["code"] == "in_use"


@pytest.mark.parametrize("role", [Role.MARKETING_MANAGER, Role.CONTACTS_VIEWER])
def test_roles_without_attributes_manage_cannot_touch_definitions(client_for, tenant, role, api):
    d = api.post(reverse(ATTR), {"key": "plan", "label": "P", "type": "string"}, format="json").json()
    c = client_for(tenant, role)
    assert c.get(reverse(ATTR)).status_code == 200
    assert (
        c.post(reverse(ATTR), {"key": "x", "label": "x", "type": "string"}, format="json").status_code == 403
    )
    assert c.patch(attr_detail(d["id"]), {"label": "Q"}, format="json").status_code == 403
    assert c.delete(attr_detail(d["id"])).status_code == 403


# --- consent bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "fax", "purpose": "marketing", "status": "granted"},
        {"channel": "email", "purpose": "unknown", "status": "granted"},
        {"channel": "email", "purpose": "marketing", "status": "maybe"},
        {"channel": ["email"], "purpose": "marketing", "status": "granted"},
        {"channel": "email", "purpose": 5, "status": "granted"},
        {"channel": "email", "purpose": {"a": 1}, "status": "granted"},
        {"channel": "email", "purpose": "marketing", "status": True},
        {"channel": "email", "purpose": "marketing", "status": "granted", "proof": []},
        {"channel": "email", "purpose": "marketing", "status": "granted", "proof": "x"},
        {"channel": "email", "purpose": "marketing", "status": "granted", "proof": 5},
        {"channel": "email", "purpose": "marketing", "status": "granted", "proof": None},
        {"channel": "email", "purpose": "marketing", "status": "granted", "proof": {"a": "\x00"}},
        {"channel": "email", "purpose": "marketing", "status": "granted", "proof": {"\x00": 1}},
        {"channel": "email", "purpose": "marketing", "status": "granted", "proof": {"a": "x" * 17000}},
        {"channel": "email", "purpose": "marketing", "status": "granted", "ip_address": "999.1.1.1"},
        {"channel": "email", "purpose": "marketing", "status": "granted", "ip_address": 5},
        {"channel": "email", "purpose": "marketing", "status": "granted", "ip_address": ""},
        {"channel": "email", "purpose": "marketing", "status": "granted", "ip_address": None},
        {"channel": "email", "purpose": "marketing", "status": "granted", "user_agent": None},
        {"channel": "email", "purpose": "marketing", "status": "granted", "user_agent": "x" * 513},
        {"channel": "email", "purpose": "marketing", "status": "granted", "source": "x" * 65},
        {"channel": "email", "purpose": "marketing", "status": "granted", "source": None},
        {"channel": "email", "purpose": "marketing", "status": "granted", "legal_basis": "whim"},
        {"channel": "email", "purpose": "marketing", "status": "granted", "legal_basis": None},
        {
            "channel": "email",
            "purpose": "marketing",
            "status": "granted",
            "recorded_at": "2020-01-01T00:00:00Z",
        },
        {"channel": "email", "purpose": "x" * 65, "status": "granted"},
        {"channel": "email", "purpose": "", "status": "granted"},
        {"channel": "email", "purpose": "marketing\x00", "status": "granted"},
    ],
)
def test_odd_consent_bodies_are_400_and_write_nothing(api, contact, body):
    response = api.post(consents_url(contact.pk), body, format="json")
    assert response.status_code == 400, (body, response.status_code, response.content)
    assert ConsentRecord.objects.for_tenant(contact.tenant).count() == 0


@pytest.mark.parametrize("raw", ["[]", "5", '"x"', "null", "[{}]", "true"])
def test_non_object_consent_bodies_are_400(api, contact, raw):
    response = api.post(consents_url(contact.pk), raw, content_type="application/json")
    assert response.status_code == 400, (raw, response.status_code, response.content)


def test_consent_ipv4_mapped_and_ipv6(api, contact):
    for ip in ("::ffff:10.0.0.1", "2001:db8::1", "fe80::1%25eth0", "fe80::1%eth0", "1.2.3.4 ", " 1.2.3.4"):
        r = record(api, contact, ip_address=ip)
        assert r.status_code in (201, 400), (ip, r.status_code, r.content)


def test_consent_events_payload_for_double_opt_in(api, contact, anon):
    from events.models import OutboxEvent

    token = record(api, contact, status="pending", source="signup").json()["confirmation"]["token"]
    anon.get(confirm_url(token), HTTP_USER_AGENT="Browser/1")
    events = list(
        OutboxEvent.objects.unscoped()
        .filter(aggregate_id=contact.pk, event_type="contact.consent_changed")
        .order_by("sequence")
    )
    assert [e.payload["data"]["new"] for e in events] == ["pending", "granted"]
    data = events[1].payload["data"]
    assert data["old"] == "pending" and data["source"] == "double_opt_in" and data["double_opt_in"] is True
    assert events[1].payload["actor"]["type"] == "contact"
    state = ConsentState.objects.for_tenant(contact.tenant).get(contact=contact)
    assert state.confirmed_at is not None
    assert str(state.record_id) == data["record_id"]
    # granting again keeps confirmed_at; no event
    record(api, contact, status="granted")
    state.refresh_from_db()
    assert state.confirmed_at is not None
    # pending over granted: no downgrade, no token, no event
    body = record(api, contact, status="pending").json()
    assert (
        body["confirmation"] is None
        and body["state"]["status"] == "granted"
        and body["record"]["applied"] is False
    )
    assert (
        OutboxEvent.objects.unscoped()
        .filter(aggregate_id=contact.pk, event_type="contact.consent_changed")
        .count()
        == 2
    )
    # revoke clears
    record(api, contact, status="revoked")
    state.refresh_from_db()
    assert state.confirmed_at is None and state.status == "revoked"
    listing = api.get(consents_url(contact.pk)).json()
    assert listing["current"][0]["record_id"] == listing["ledger"][0]["id"]


def test_token_from_other_tenant_contact_cannot_touch_this_tenant(client_for, tenant, other_tenant, anon):
    a = ContactFactory(tenant=tenant)
    b = ContactFactory(tenant=other_tenant)
    api_a = client_for(tenant)
    api_b = client_for(other_tenant)
    token_b = record(api_b, b, status="pending").json()["confirmation"]["token"]
    record(api_a, a, status="pending")
    assert anon.get(confirm_url(token_b)).status_code == 200
    assert ConsentState.objects.for_tenant(tenant).get(contact=a).status == "pending"


def test_consent_on_other_tenants_contact_is_404(client_for, tenant, other_tenant):
    b = ContactFactory(tenant=other_tenant)
    api_a = client_for(tenant)
    assert record(api_a, b).status_code == 404
    assert api_a.get(consents_url(b.pk)).status_code == 404


@pytest.mark.parametrize("role", [Role.MARKETING_MANAGER, Role.CONTACTS_VIEWER])
def test_roles_without_consent_manage(client_for, tenant, contact, role):
    c = client_for(tenant, role)
    assert record(c, contact).status_code == 403
    assert c.get(consents_url(contact.pk)).status_code == 200
    assert c.post(reverse("consent-purpose-list"), {"key": "x"}, format="json").status_code == 403
    assert ConsentRecord.objects.for_tenant(tenant).count() == 0


# --- object grants -----------------------------------------------------------------------------


def test_list_share_grants_only_that_list(api, tenant, user_client_for, contact):
    viewer, user = user_client_for(tenant, Role.CONTACTS_VIEWER)
    l1 = api.post(reverse("list-list"), {"name": "L1"}, format="json").json()
    l2 = api.post(reverse("list-list"), {"name": "L2"}, format="json").json()
    r = api.post(reverse("list-shares", args=[l1["id"]]), {"user_id": str(user.pk)}, format="json")
    assert r.status_code == 201, r.content
    add = {"contact_ids": [str(contact.pk)]}
    assert viewer.post(reverse("list-contacts", args=[l1["id"]]), add, format="json").status_code == 200
    assert viewer.post(reverse("list-contacts", args=[l2["id"]]), add, format="json").status_code == 403
    assert (
        viewer.patch(reverse("list-detail", args=[l1["id"]]), {"name": "L1b"}, format="json").status_code
        == 200
    )
    assert viewer.delete(reverse("list-detail", args=[l1["id"]])).status_code == 403
    assert viewer.get(reverse("list-shares", args=[l1["id"]])).status_code == 403
    assert (
        viewer.post(
            reverse("list-merge", args=[l1["id"]]),
            {"lists": [l2["id"]], "delete_merged": True},
            format="json",
        ).status_code
        == 403
    )
    assert viewer.post(reverse("list-copy", args=[l1["id"]]), {"name": "C"}, format="json").status_code == 403
    assert viewer.patch(
        reverse("list-detail", args=[str(uuid.uuid4())]), {"name": "x"}, format="json"
    ).status_code in (403, 404)
    assert viewer.patch(reverse("list-detail", args=["nope"]), {"name": "x"}, format="json").status_code in (
        403,
        404,
    )


def test_share_in_one_tenant_does_not_reach_other_tenant(
    api, tenant, other_tenant, user_client_for, client_for
):
    viewer, user = user_client_for(tenant, Role.CONTACTS_VIEWER)
    MembershipFactory(tenant=other_tenant, user=user, role=Role.CONTACTS_VIEWER)
    l1 = api.post(reverse("list-list"), {"name": "L1"}, format="json").json()
    api.post(reverse("list-shares", args=[l1["id"]]), {"user_id": str(user.pk)}, format="json")
    other_api = client_for(other_tenant)
    l_other = other_api.post(reverse("list-list"), {"name": "O"}, format="json").json()
    r = viewer.patch(
        reverse("list-detail", args=[l_other["id"]]),
        {"name": "hacked"},
        format="json",
        HTTP_X_TENANT_ID=str(other_tenant.pk),
    )
    assert r.status_code == 403, r.content
    r = viewer.patch(
        reverse("list-detail", args=[l1["id"]]),
        {"name": "hacked"},
        format="json",
        HTTP_X_TENANT_ID=str(other_tenant.pk),
    )
    assert r.status_code in (403, 404), r.content

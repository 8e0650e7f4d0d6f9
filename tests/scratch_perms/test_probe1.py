"""Probes (temporary)."""
import datetime as dt
import io
import uuid

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from contacts_service.models import ApiKey
from contacts_service.roles import Role
from lists.models import ContactList, ListMembership
from tags.models import Tag, TagAssignment
from tests.factories import ContactFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def jwt_client(user):
    claims = {"sub": user.auth_subject, "email": user.email, "aud": settings.JWT_AUDIENCE,
              "iss": settings.JWT_ISSUER, "exp": timezone.now() + dt.timedelta(minutes=5)}
    c = APIClient()
    c.credentials(HTTP_AUTHORIZATION="Bearer " + jwt.encode(claims, settings.JWT_VERIFYING_KEY, algorithm="HS256"))
    c.raise_request_exception = False
    return c


def mk(client):
    client.raise_request_exception = False
    return client


def test_multi_membership_header(tenant, other_tenant, user_client_for):
    c, user = user_client_for(tenant, Role.CONTACTS_VIEWER)
    MembershipFactory(tenant=other_tenant, user=user, role=Role.OWNER)
    c.raise_request_exception = False
    r = c.get("/api/v1/me/")
    assert r.status_code == 403, r.content
    r = c.get("/api/v1/me/", HTTP_X_TENANT_ID=str(other_tenant.pk))
    assert r.status_code == 200 and r.json()["role"] == "owner", r.content
    r = c.get("/api/v1/me/", HTTP_X_TENANT_ID=str(tenant.pk))
    assert r.status_code == 200 and r.json()["role"] == "contacts_viewer", r.content
    r = c.post("/api/v1/lists/", {"name": "x"}, format="json", HTTP_X_TENANT_ID=str(tenant.pk))
    assert r.status_code == 403
    r = c.post("/api/v1/lists/", {"name": "x"}, format="json", HTTP_X_TENANT_ID=str(other_tenant.pk))
    assert r.status_code == 201
    r = c.get("/api/v1/lists/", HTTP_X_TENANT_ID=str(tenant.pk))
    assert r.json()["count"] == 0
    r = c.get("/api/v1/me/", HTTP_X_TENANT_ID="nope")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "X-Tenant-ID", r.content
    r = c.get("/api/v1/me/", HTTP_X_TENANT_ID=str(uuid.uuid4()))
    assert r.status_code == 403


def test_api_key_header(tenant, other_tenant, client_for):
    c = mk(client_for(tenant, Role.CONTACTS_VIEWER))
    assert c.get("/api/v1/me/", HTTP_X_TENANT_ID=str(tenant.pk)).status_code == 200
    assert c.get("/api/v1/me/", HTTP_X_TENANT_ID=str(other_tenant.pk)).status_code == 403
    r = c.get("/api/v1/me/", HTTP_X_TENANT_ID="garbage")
    assert r.status_code == 400, r.content
    assert c.get("/api/v1/me/", HTTP_X_TENANT_ID=str(tenant.pk).upper()).status_code == 200


def test_cross_tenant_paths(tenant, other_tenant, client_for):
    me = mk(client_for(tenant))
    them = mk(client_for(other_tenant))
    c = them.post("/api/v1/contacts/", {"email": "t@x.test"}, format="json").json()["id"]
    c2 = them.post("/api/v1/contacts/", {"email": "t2@x.test"}, format="json").json()["id"]
    mine = me.post("/api/v1/contacts/", {"email": "m@x.test"}, format="json").json()["id"]
    lst = them.post("/api/v1/lists/", {"name": "L"}, format="json").json()["id"]
    tag = them.post("/api/v1/tags/", {"name": "T"}, format="json").json()["id"]
    them.post(f"/api/v1/contacts/{c}/tags/", {"tags": ["T"]}, format="json")
    attr = them.post("/api/v1/attribute-definitions/", {"key": "plan", "label": "P", "type": "string"}, format="json").json()["id"]
    purpose = them.get("/api/v1/consent-purposes/").json()[0]["id"]
    ident = them.post(f"/api/v1/contacts/{c}/identifiers/", {"channel": "sms", "value": "+33612345678"}, format="json").json()["id"]
    key = ApiKey.objects.filter(tenant=other_tenant).first().pk
    exp = them.post("/api/v1/exports/", {}, format="json").json()["id"]
    imp = them.post("/api/v1/imports/", {"file": io.BytesIO(b"email\nz@x.test\n")}, format="multipart").json()["id"]
    merge = them.post(f"/api/v1/contacts/{c}/merge/", {"others": [c2]}, format="json")
    assert merge.status_code == 201, merge.content
    merge_id = merge.json()["merge_id"]
    probes = [
        ("get", f"/api/v1/contacts/{c}/", None),
        ("patch", f"/api/v1/contacts/{c}/", {"first_name": "X"}),
        ("delete", f"/api/v1/contacts/{c}/", None),
        ("post", f"/api/v1/contacts/{c}/restore/", None),
        ("get", f"/api/v1/contacts/{c}/history/", None),
        ("get", f"/api/v1/contacts/{c}/timeline/", None),
        ("get", f"/api/v1/contacts/{c}/identifiers/", None),
        ("post", f"/api/v1/contacts/{c}/identifiers/", {"channel": "push", "value": "tok"}),
        ("patch", f"/api/v1/contacts/{c}/identifiers/{ident}/", {"verified": True}),
        ("delete", f"/api/v1/contacts/{c}/identifiers/{ident}/", None),
        ("patch", f"/api/v1/contacts/{mine}/identifiers/{ident}/", {"verified": True}),
        ("delete", f"/api/v1/contacts/{mine}/identifiers/{ident}/", None),
        ("get", f"/api/v1/contacts/{c}/export/", None),
        ("post", f"/api/v1/contacts/{c}/erase/", None),
        ("post", f"/api/v1/contacts/{c}/tags/", {"tags": ["New"]}),
        ("delete", f"/api/v1/contacts/{c}/tags/{tag}/", None),
        ("delete", f"/api/v1/contacts/{mine}/tags/{tag}/", None),
        ("get", f"/api/v1/contacts/{c}/consents/", None),
        ("post", f"/api/v1/contacts/{c}/consents/", {"channel": "email", "purpose": "marketing", "status": "granted"}),
        ("get", f"/api/v1/contacts/{c}/activities/", None),
        ("post", f"/api/v1/contacts/{c}/activities/", {"type": "email_opened"}),
        ("post", f"/api/v1/contacts/{c}/merge/", {"others": [mine]}),
        ("post", f"/api/v1/contacts/{c}/merge/preview/", {"others": [mine]}),
        ("post", f"/api/v1/contacts/{mine}/merge/", {"others": [c]}),
        ("post", f"/api/v1/contacts/{mine}/merge/preview/", {"others": [c]}),
        ("get", f"/api/v1/lists/{lst}/", None),
        ("patch", f"/api/v1/lists/{lst}/", {"name": "Z"}),
        ("delete", f"/api/v1/lists/{lst}/", None),
        ("get", f"/api/v1/lists/{lst}/contacts/", None),
        ("post", f"/api/v1/lists/{lst}/contacts/", {"contact_ids": [mine]}),
        ("post", f"/api/v1/lists/{lst}/contacts/remove/", {"contact_ids": [mine]}),
        ("post", f"/api/v1/lists/{lst}/copy/", {"name": "copy"}),
        ("post", f"/api/v1/lists/{lst}/merge/", {"lists": [str(uuid.uuid4())]}),
        ("get", f"/api/v1/lists/{lst}/shares/", None),
        ("get", f"/api/v1/tags/{tag}/", None),
        ("patch", f"/api/v1/tags/{tag}/", {"name": "Z"}),
        ("delete", f"/api/v1/tags/{tag}/", None),
        ("post", f"/api/v1/tags/{tag}/apply/", {"contact_ids": [mine]}),
        ("post", f"/api/v1/tags/{tag}/remove/", {"filter": {}}),
        ("get", f"/api/v1/attribute-definitions/{attr}/", None),
        ("patch", f"/api/v1/attribute-definitions/{attr}/", {"label": "Z"}),
        ("delete", f"/api/v1/attribute-definitions/{attr}/", None),
        ("get", f"/api/v1/consent-purposes/{purpose}/", None),
        ("patch", f"/api/v1/consent-purposes/{purpose}/", {"label": "Z"}),
        ("delete", f"/api/v1/consent-purposes/{purpose}/", None),
        ("delete", f"/api/v1/api-keys/{key}/", None),
        ("get", f"/api/v1/exports/{exp}/", None),
        ("get", f"/api/v1/imports/{imp}/", None),
        ("patch", f"/api/v1/imports/{imp}/", {"on_match": "skip"}),
        ("post", f"/api/v1/imports/{imp}/start/", None),
        ("post", f"/api/v1/imports/{imp}/cancel/", None),
        ("get", f"/api/v1/imports/{imp}/errors.csv", None),
        ("get", f"/api/v1/merges/{merge_id}/", None),
        ("post", f"/api/v1/merges/{merge_id}/undo/", None),
    ]
    bad = []
    for method, url, body in probes:
        r = getattr(me, method)(url, body, format="json") if body is not None else getattr(me, method)(url)
        if r.status_code != 404:
            bad.append((method, url, r.status_code, r.content[:200]))
    assert not bad, "\n".join(map(str, bad))
    assert not ApiKey.objects.get(pk=key).revoked_at


def test_cross_tenant_bodies(tenant, other_tenant, client_for):
    me = mk(client_for(tenant))
    them = mk(client_for(other_tenant))
    c = them.post("/api/v1/contacts/", {"email": "t@x.test"}, format="json").json()["id"]
    mine = me.post("/api/v1/contacts/", {"email": "m@x.test"}, format="json").json()["id"]
    their_list = them.post("/api/v1/lists/", {"name": "L"}, format="json").json()["id"]
    them.post(f"/api/v1/lists/{their_list}/contacts/", {"contact_ids": [c]}, format="json")
    my_list = me.post("/api/v1/lists/", {"name": "Mine"}, format="json").json()["id"]
    my_tag = me.post("/api/v1/tags/", {"name": "Mine"}, format="json").json()["id"]
    their_tag = them.post("/api/v1/tags/", {"name": "T"}, format="json").json()["id"]
    imp = me.post("/api/v1/imports/", {"file": io.BytesIO(b"email\nz@x.test\n")}, format="multipart").json()["id"]
    bad = []
    checks = [
        ("post", f"/api/v1/tags/{my_tag}/apply/", {"contact_ids": [c]}, 400),
        ("post", f"/api/v1/tags/{my_tag}/apply/", {"contact_ids": [c, mine]}, 400),
        ("post", f"/api/v1/lists/{my_list}/contacts/", {"contact_ids": [c]}, 400),
        ("post", f"/api/v1/lists/{my_list}/merge/", {"lists": [their_list]}, 400),
        ("post", "/api/v1/lists/combine/", {"name": "C", "operation": "union", "lists": [my_list, their_list]}, 400),
        ("post", "/api/v1/lists/", {"name": "D", "kind": "dynamic", "rules": {"operator": "and", "rules": [{"field": "lists", "op": "in", "value": [their_list]}]}}, 400),
        ("post", "/api/v1/lists/preview/", {"rules": {"operator": "and", "rules": [{"field": "lists", "op": "in", "value": [their_list]}]}}, 400),
        ("patch", f"/api/v1/imports/{imp}/", {"list_id": their_list}, 400),
        ("post", f"/api/v1/contacts/{mine}/merge/", {"others": [c]}, 404),
    ]
    for method, url, body, code in checks:
        r = getattr(me, method)(url, body, format="json")
        if r.status_code != code:
            bad.append((method, url, r.status_code, r.content[:300]))
    # filters naming another tenant's objects select nobody
    for params in (f"list={their_list}", f"tags={their_tag}", f"tags_all={their_tag}"):
        r = me.get(f"/api/v1/contacts/?{params}")
        if r.status_code != 200 or r.json()["count"] != 0:
            bad.append(("filter", params, r.status_code, r.content[:200]))
    r = me.post(f"/api/v1/tags/{my_tag}/apply/", {"filter": {"list": their_list}}, format="json")
    if r.status_code != 200 or r.json()["changed"] != 0:
        bad.append(("bulk filter", r.status_code, r.content[:200]))
    r = me.post("/api/v1/activities/", {"activities": [{"type": "a_b", "contact_id": c}, {"type": "a_b", "email": "t@x.test"}]}, format="json")
    if r.status_code != 200 or r.json()["contacts_not_found"] != 2:
        bad.append(("activities", r.status_code, r.content[:300]))
    for url in (f"/api/v1/events/?contact={c}", f"/api/v1/merges/?contact={c}", f"/api/v1/duplicates/?contact={c}"):
        r = me.get(url)
        if r.status_code not in (200, 400) or (r.status_code == 200 and r.json()["count"] != 0):
            bad.append((url, r.status_code, r.content[:200]))
    r = me.get("/api/v1/contacts/resolve/?channel=email&identifier=t@x.test")
    if r.status_code != 404:
        bad.append(("resolve", r.status_code))
    assert not bad, "\n".join(map(str, bad))
    assert not TagAssignment.objects.unscoped().filter(tag_id=my_tag).exists()
    assert not ListMembership.objects.unscoped().filter(contact_list_id=my_list).exists()

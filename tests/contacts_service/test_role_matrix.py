"""Every sub-endpoint answers 403 exactly where docs/api.md says, HEAD included, for each role."""

import io

import pytest

from contacts_service.roles import ROLE_PERMISSIONS, Role


@pytest.mark.django_db
def test_role_matrix(client_for, tenant, user_client_for):
    api = client_for(tenant)
    c1 = api.post(
        "/api/v1/contacts/", {"email": "a@x.test", "first_name": "Ann", "last_name": "Lee"}, format="json"
    ).json()["id"]
    c2 = api.post(
        "/api/v1/contacts/", {"email": "b@x.test", "first_name": "Ann", "last_name": "Lee"}, format="json"
    ).json()["id"]
    lst = api.post("/api/v1/lists/", {"name": "L"}, format="json").json()["id"]
    lst2 = api.post("/api/v1/lists/", {"name": "L2"}, format="json").json()["id"]
    tag = api.post("/api/v1/tags/", {"name": "T"}, format="json").json()["id"]
    ident = api.post(
        f"/api/v1/contacts/{c1}/identifiers/", {"channel": "sms", "value": "+33612345678"}, format="json"
    ).json()["id"]
    up = api.post("/api/v1/imports/", {"file": io.BytesIO(b"email\nz@x.test\n")}, format="multipart")
    imp = up.json()["id"]
    exp = api.post("/api/v1/exports/", {}, format="json").json()["id"]
    purpose = api.get("/api/v1/consent-purposes/").json()[0]["id"]
    attr = api.post(
        "/api/v1/attribute-definitions/", {"key": "plan", "label": "P", "type": "string"}, format="json"
    ).json()["id"]
    dup = api.get("/api/v1/duplicates/").json()["results"]
    from events.models import OutboxEvent

    ev = OutboxEvent.objects.unscoped().filter(tenant=tenant).first().pk
    checks = [
        ("get", "/api/v1/me/", None, "contacts.view"),
        ("get", "/api/v1/contacts/resolve/?channel=email&identifier=a@x.test", None, "contacts.view"),
        ("get", f"/api/v1/contacts/{c1}/history/", None, "contacts.view"),
        ("get", f"/api/v1/contacts/{c1}/timeline/", None, "contacts.view"),
        ("get", f"/api/v1/contacts/{c1}/identifiers/", None, "contacts.view"),
        ("get", f"/api/v1/contacts/{c1}/consents/", None, "contacts.view"),
        ("get", f"/api/v1/contacts/{c1}/activities/", None, "contacts.view"),
        ("get", f"/api/v1/contacts/{c1}/export/", None, "contacts.export"),
        ("get", "/api/v1/duplicates/", None, "contacts.view"),
        ("get", "/api/v1/merges/", None, "contacts.view"),
        ("get", "/api/v1/matching-rules/", None, "contacts.view"),
        ("get", "/api/v1/tags/", None, "contacts.view"),
        ("get", f"/api/v1/tags/{tag}/", None, "contacts.view"),
        ("get", "/api/v1/lists/", None, "contacts.view"),
        ("get", f"/api/v1/lists/{lst}/contacts/", None, "contacts.view"),
        ("get", f"/api/v1/lists/{lst}/shares/", None, "lists.manage"),
        ("get", "/api/v1/events/", None, "events.view"),
        ("get", f"/api/v1/events/{ev}/", None, "events.view"),
        ("get", "/api/v1/consent-purposes/", None, "contacts.view"),
        ("get", f"/api/v1/consent-purposes/{purpose}/", None, "contacts.view"),
        ("get", "/api/v1/attribute-definitions/", None, "contacts.view"),
        ("get", f"/api/v1/attribute-definitions/{attr}/", None, "contacts.view"),
        ("get", "/api/v1/imports/", None, "contacts.import"),
        ("get", f"/api/v1/imports/{imp}/", None, "contacts.import"),
        ("get", f"/api/v1/imports/{imp}/errors.csv", None, "contacts.import"),
        ("get", "/api/v1/exports/", None, "contacts.export"),
        ("get", f"/api/v1/exports/{exp}/", None, "contacts.export"),
        ("get", f"/api/v1/exports/{exp}/download/?token=x", None, "contacts.export"),
        ("get", "/api/v1/api-keys/", None, "api_keys.manage"),
        ("post", f"/api/v1/contacts/{c1}/merge/preview/", {"others": [c2]}, "contacts.view"),
        (
            "post",
            "/api/v1/lists/preview/",
            {"rules": {"rules": [{"field": "country", "op": "eq", "value": "FR"}]}},
            "contacts.view",
        ),
        ("post", f"/api/v1/contacts/{c1}/tags/", {"tags": ["New"]}, "tags.manage"),
        ("post", f"/api/v1/tags/{tag}/apply/", {"contact_ids": [c1]}, "tags.manage"),
        ("post", f"/api/v1/lists/{lst}/contacts/", {"contact_ids": [c1]}, "lists.manage"),
        ("post", f"/api/v1/lists/{lst}/merge/", {"lists": [lst2]}, "lists.manage"),
        ("post", f"/api/v1/lists/{lst}/copy/", {"name": "copy-{role}"}, "lists.manage"),
        (
            "post",
            "/api/v1/lists/combine/",
            {"name": "comb-{role}", "operation": "union", "lists": [lst, lst2]},
            "lists.manage",
        ),
        (
            "post",
            f"/api/v1/contacts/{c1}/consents/",
            {"channel": "email", "purpose": "marketing", "status": "granted"},
            "consent.manage",
        ),
        ("post", f"/api/v1/contacts/{c1}/activities/", {"type": "email_opened"}, "contacts.update"),
        (
            "post",
            "/api/v1/activities/",
            {"activities": [{"type": "a_b", "contact_id": c1}]},
            "contacts.update",
        ),
        (
            "post",
            f"/api/v1/contacts/{c1}/identifiers/",
            {"channel": "push", "value": "tok-{role}"},
            "contacts.update",
        ),
        ("patch", f"/api/v1/contacts/{c1}/identifiers/{ident}/", {"verified": True}, "contacts.update"),
        ("post", "/api/v1/duplicates/recompute/", None, "contacts.merge"),
        ("put", "/api/v1/matching-rules/", {}, "contacts.merge"),
        ("post", "/api/v1/exports/", {}, "contacts.export"),
        (
            "post",
            "/api/v1/events/replay/",
            {"created_after": "2020-01-01T00:00:00Z", "created_before": "2020-01-02T00:00:00Z"},
            "events.replay",
        ),
        ("patch", f"/api/v1/imports/{imp}/", {"on_match": "skip"}, "contacts.import"),
        ("post", "/api/v1/consent-purposes/", {"key": "k-{role}"}, "consent.manage"),
        ("patch", f"/api/v1/consent-purposes/{purpose}/", {"label": "x"}, "consent.manage"),
        ("post", "/api/v1/api-keys/", {"name": "n", "role": "contacts_viewer"}, "api_keys.manage"),
    ]
    if dup:
        checks.append(("post", f"/api/v1/duplicates/{dup[0]['id']}/dismiss/", None, "contacts.merge"))
    problems = []
    for role in Role.values:
        client = client_for(tenant, role)
        for method, url, body, perm in checks:
            if isinstance(body, dict):
                body = {k: (v.format(role=role) if isinstance(v, str) else v) for k, v in body.items()}
            methods = [method] + (["head"] if method == "get" else [])
            for m in methods:
                r = (
                    getattr(client, m)(url, body, format="json")
                    if body is not None
                    else getattr(client, m)(url)
                )
                allowed = perm in ROLE_PERMISSIONS[role]
                if (allowed and r.status_code == 403) or (not allowed and r.status_code != 403):
                    problems.append((role, m, url, perm, r.status_code, r.content[:200]))
    assert not problems, "\n".join(map(str, problems))

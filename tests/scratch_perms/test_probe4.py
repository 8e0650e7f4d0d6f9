"""Probes (temporary): type confusion on every write body."""
import io
import json
import uuid

import pytest

pytestmark = pytest.mark.django_db

VALUES = [None, 1, 1.5, True, "x", [], {}, ["x"], {"a": 1}, "a\x00b", "a" * 5000, -1, 2**70, [None], [{}], [[]],
          "2024-01-01", "\ud800" if False else "é", 1e308, [1]]


def test_type_confusion(raw, tenant):
    api = raw
    api.post("/api/v1/attribute-definitions/", {"key": "plan", "label": "P", "type": "choice", "choices": ["a", "b"]}, format="json")
    api.post("/api/v1/attribute-definitions/", {"key": "score", "label": "S", "type": "number"}, format="json")
    c = api.post("/api/v1/contacts/", {"email": "a@x.test", "phone": "+33612345678"}, format="json").json()["id"]
    c2 = api.post("/api/v1/contacts/", {"email": "b@x.test", "first_name": "B"}, format="json").json()["id"]
    lst = api.post("/api/v1/lists/", {"name": "L"}, format="json").json()["id"]
    lst2 = api.post("/api/v1/lists/", {"name": "L2"}, format="json").json()["id"]
    tag = api.post("/api/v1/tags/", {"name": "T"}, format="json").json()["id"]
    ident = api.post(f"/api/v1/contacts/{c}/identifiers/", {"channel": "sms", "value": "+33612345679"}, format="json").json()["id"]
    imp = api.post("/api/v1/imports/", {"file": io.BytesIO(b"email,first\nz@x.test,Z\n")}, format="multipart").json()["id"]
    purpose = api.get("/api/v1/consent-purposes/").json()[0]["id"]
    attr = api.get("/api/v1/attribute-definitions/").json()[0]["id"]
    cases = [
        ("post", "/api/v1/contacts/", {"email": "n@x.test", "first_name": "N", "attributes": {"plan": "a"}, "country": "FR", "status": "active", "allow_erased": False}),
        ("patch", f"/api/v1/contacts/{c}/", {"first_name": "N", "attributes": {"plan": "a", "score": 1}, "phone": "0612345678", "display_name": "x"}),
        ("post", f"/api/v1/contacts/{c}/identifiers/", {"channel": "email", "value": "q@x.test", "verified": True}),
        ("patch", f"/api/v1/contacts/{c}/identifiers/{ident}/", {"verified": True}),
        ("post", f"/api/v1/contacts/{c}/consents/", {"channel": "email", "purpose": "marketing", "status": "granted", "legal_basis": "consent", "source": "x", "proof": {"a": 1}, "ip_address": "1.2.3.4", "user_agent": "ua"}),
        ("post", f"/api/v1/contacts/{c}/activities/", {"type": "email_opened", "occurred_at": "2024-01-01T00:00:00Z", "title": "t", "data": {}, "idempotency_key": "k", "source": "s"}),
        ("post", "/api/v1/activities/", {"activities": [{"type": "email_opened", "contact_id": c, "data": {}}]}),
        ("post", f"/api/v1/contacts/{c}/merge/preview/", {"others": [c2], "fields": {"email": c2}, "strategy": "fill_empty", "dry_run": True}),
        ("post", f"/api/v1/contacts/{c}/merge/", {"others": [c2], "fields": {"email": c2}, "strategy": "fill_empty", "dry_run": True}),
        ("put", "/api/v1/matching-rules/", {"rules": [["email"]], "email_gmail_folding": False, "name_similarity": 0.6, "merge_strategy": "fill_empty"}),
        ("post", "/api/v1/attribute-definitions/", {"key": "k1", "label": "K", "type": "string", "required": False, "description": "d"}),
        ("patch", f"/api/v1/attribute-definitions/{attr}/", {"label": "K", "choices": ["a", "b", "c"], "required": False}),
        ("post", "/api/v1/consent-purposes/", {"key": "kk", "label": "K", "description": "d"}),
        ("patch", f"/api/v1/consent-purposes/{purpose}/", {"label": "K", "description": "d"}),
        ("patch", f"/api/v1/imports/{imp}/", {"mapping": {"email": "email"}, "dedupe_key": "email", "on_match": "update", "list_id": lst, "tags": ["a"], "allow_erased": False}),
        ("post", "/api/v1/exports/", {"filters": {"status": "active"}, "columns": ["id", "email"], "bom": False, "delimiter": ","}),
        ("post", "/api/v1/events/replay/", {"created_after": "2020-01-01T00:00:00Z", "created_before": "2020-01-02T00:00:00Z", "event_type": ["contact.created"], "contact_id": c}),
        ("post", "/api/v1/api-keys/", {"name": "n", "role": "contacts_viewer", "expires_at": "2099-01-01T00:00:00Z"}),
        ("post", "/api/v1/lists/", {"name": "NL", "description": "d", "status": "active", "kind": "static"}),
        ("patch", f"/api/v1/lists/{lst}/", {"name": "L", "description": "d", "status": "active"}),
        ("post", f"/api/v1/lists/{lst}/merge/", {"lists": [lst2], "delete_merged": False}),
        ("post", f"/api/v1/lists/{lst}/copy/", {"name": "CP", "description": "d", "kind": "static"}),
        ("post", "/api/v1/lists/combine/", {"name": "CB", "operation": "at_least", "lists": [lst, lst2], "min_lists": 1, "description": "d"}),
        ("post", f"/api/v1/lists/{lst}/shares/", {"email": "nobody@x.test"}),
        ("post", "/api/v1/tags/", {"name": "NT", "color": "#FFFFFF", "description": "d"}),
        ("patch", f"/api/v1/tags/{tag}/", {"name": "T", "color": "#FFFFFF", "description": "d"}),
        ("post", f"/api/v1/contacts/{c}/tags/", {"tags": ["VIP"]}),
        ("post", f"/api/v1/tags/{tag}/apply/", {"contact_ids": [c]}),
        ("post", f"/api/v1/lists/{lst}/contacts/", {"filter": {"status": "active", "country": "FR"}}),
    ]
    bad = []
    for method, url, base in cases:
        for key in list(base):
            for v in VALUES:
                body = dict(base)
                body[key] = v
                r = getattr(api, method)(url, data=json.dumps(body), content_type="application/json")
                if r.status_code >= 500:
                    bad.append((method, url, key, repr(v)[:40], r.status_code, r.content[:200]))
            # nested: inner dict/list items
            if isinstance(base[key], dict):
                for ik in list(base[key]) or ["zz"]:
                    for v in VALUES:
                        body = json.loads(json.dumps(base))
                        body[key][ik] = v
                        r = getattr(api, method)(url, data=json.dumps(body), content_type="application/json")
                        if r.status_code >= 500:
                            bad.append((method, url, f"{key}.{ik}", repr(v)[:40], r.status_code, r.content[:200]))
            if isinstance(base[key], list) and base[key]:
                for v in VALUES:
                    body = json.loads(json.dumps(base))
                    body[key] = [v]
                    r = getattr(api, method)(url, data=json.dumps(body), content_type="application/json")
                    if r.status_code >= 500:
                        bad.append((method, url, f"{key}[0]", repr(v)[:40], r.status_code, r.content[:200]))
                    if isinstance(base[key][0], dict):
                        for ik in base[key][0]:
                            body = json.loads(json.dumps(base))
                            body[key][0][ik] = v
                            r = getattr(api, method)(url, data=json.dumps(body), content_type="application/json")
                            if r.status_code >= 500:
                                bad.append((method, url, f"{key}[0].{ik}", repr(v)[:40], r.status_code, r.content[:200]))
    assert not bad, "\n".join(map(str, bad))

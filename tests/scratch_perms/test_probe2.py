"""Probes (temporary): 500 hunting."""
import io
import json
import uuid

import pytest

from contacts_service.roles import Role

pytestmark = pytest.mark.django_db

WEIRD = ["abc", "", "-1", "0", "99999999999999999999999", "1e5", "%00", "null", "[]", "{}", "\u00e9", "a,b", ",", " ", "true",
         "00000000-0000-0000-0000-000000000000", "x" * 300]


def test_query_fuzz(raw, tenant):
    c = raw.post("/api/v1/contacts/", {"email": "a@x.test"}, format="json").json()["id"]
    lst = raw.post("/api/v1/lists/", {"name": "L"}, format="json").json()["id"]
    tag = raw.post("/api/v1/tags/", {"name": "T"}, format="json").json()["id"]
    endpoints = {
        "/api/v1/contacts/": ["status", "country", "city", "company", "email", "external_id", "source", "created_after",
                               "created_before", "updated_after", "updated_before", "search", "tags", "tags_all", "list",
                               "consent", "attribute", "ordering", "page", "page_size", "cursor"],
        f"/api/v1/lists/{lst}/contacts/": ["page", "page_size", "cursor", "ordering"],
        "/api/v1/lists/": ["page", "page_size", "cursor", "ordering", "search", "kind", "status"],
        "/api/v1/tags/": ["page", "page_size", "cursor", "ordering", "search"],
        "/api/v1/events/": ["status", "event_type", "contact", "event_id", "created_after", "created_before", "page", "page_size", "cursor"],
        "/api/v1/merges/": ["contact", "status", "page", "page_size", "cursor"],
        "/api/v1/duplicates/": ["reason", "min_score", "contact", "status", "page", "page_size", "cursor"],
        f"/api/v1/contacts/{c}/timeline/": ["type", "activity_type", "occurred_after", "occurred_before", "page", "page_size", "cursor"],
        f"/api/v1/contacts/{c}/history/": ["page", "page_size", "cursor"],
        f"/api/v1/contacts/{c}/activities/": ["type", "page", "page_size", "cursor"],
        "/api/v1/imports/": ["page", "page_size", "cursor", "status"],
        "/api/v1/exports/": ["page", "page_size", "cursor", "status"],
        "/api/v1/contacts/resolve/": ["channel", "identifier"],
        "/api/v1/api-keys/": ["page", "page_size", "cursor"],
    }
    bad = []
    for url, params in endpoints.items():
        for p in params:
            for v in WEIRD:
                from urllib.parse import quote
                full = f"{url}?{p}={quote(v)}" if v != "%00" else f"{url}?{p}=a%00"
                r = raw.get(full)
                if r.status_code >= 500:
                    bad.append((full, r.status_code, r.content[:200]))
    for url in [f"/api/v1/events/{v}/" for v in ("99999999999999999999999", "-1", "1.5", "abc")] + \
               [f"/api/v1/lists/{lst}/shares/{v}/" for v in ("0" * 32, "-" * 36, "0" * 36)]:
        r = raw.get(url) if "events" in url else raw.delete(url)
        if r.status_code >= 500 or r.status_code == 200:
            bad.append((url, r.status_code, r.content[:200]))
    assert not bad, "\n".join(map(str, bad))


BODIES = [None, [], "x", 1, True, {"": 1}, {"lists": "x"}, {"lists": [1]}, {"lists": [None]}, {"contact_ids": "x"},
          {"contact_ids": [1]}, {"contact_ids": []}, {"filter": []}, {"filter": "x"}, {"filter": {"status": ["bogus"]}},
          {"filter": {"list": "nope"}}, {"filter": {"tags": 1}}, {"filter": {"created_after": "x"}},
          {"filter": {"search": "x" * 1000}}, {"filter": {"page_size": "x"}}, {"filter": {"cursor": "x"}},
          {"filter": {"ordering": "zzz"}}, {"filter": {"attribute": "zz:1"}}, {"filter": {"consent": "a:b:c"}},
          {"filter": {"list": ["a", "b"]}}, {"filter": {"status": []}},
          {"name": None}, {"name": ""}, {"name": 1}, {"name": "x" * 1000}, {"name": "a\x00b"},
          {"user_id": 1}, {"email": 1}, {"email": "x"}, {"user_id": None}, {"rules": "x"}, {"rules": []},
          {"rules": {"operator": "and", "rules": [{"field": "lists", "op": "in", "value": ["nope"]}]}},
          {"rules": {"operator": "and", "rules": [{"field": "lists", "op": "in", "value": "nope"}]}},
          {"rules": {"operator": "and", "rules": [{"field": "lists", "op": "in", "value": [1]}]}},
          {"rules": {"operator": "and", "rules": [{"field": "tags", "op": "any", "value": [1]}]}},
          {"rules": {"operator": "and", "rules": [{"field": "tags", "op": "any", "value": "x"}]}},
          {"operation": "union", "lists": [], "name": "x"}, {"operation": "at_least", "lists": [str(uuid.uuid4())], "name": "x", "min_lists": 99999999999999999999},
          {"tags": "x"}, {"tags": [None]}, {"tags": [1]}, {"tags": [""]}, {"tags": ["a\x00"]},
          {"others": "x"}, {"others": [1]}, {"others": []},
          {"delete_merged": "x"}, {"kind": "x", "name": "y"},
          ]


def test_body_fuzz(raw, tenant):
    c = raw.post("/api/v1/contacts/", {"email": "a@x.test"}, format="json").json()["id"]
    lst = raw.post("/api/v1/lists/", {"name": "L"}, format="json").json()["id"]
    dyn = raw.post("/api/v1/lists/", {"name": "D", "kind": "dynamic", "rules": {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]}}, format="json").json()["id"]
    tag = raw.post("/api/v1/tags/", {"name": "T"}, format="json").json()["id"]
    urls = [
        ("post", f"/api/v1/lists/{lst}/contacts/"), ("post", f"/api/v1/lists/{lst}/contacts/remove/"),
        ("post", f"/api/v1/lists/{lst}/merge/"), ("post", f"/api/v1/lists/{lst}/copy/"), ("post", f"/api/v1/lists/{dyn}/copy/"),
        ("post", "/api/v1/lists/combine/"), ("post", "/api/v1/lists/preview/"), ("post", "/api/v1/lists/"),
        ("patch", f"/api/v1/lists/{lst}/"), ("patch", f"/api/v1/lists/{dyn}/"), ("post", f"/api/v1/lists/{lst}/shares/"),
        ("post", f"/api/v1/tags/{tag}/apply/"), ("post", f"/api/v1/tags/{tag}/remove/"), ("post", "/api/v1/tags/"),
        ("patch", f"/api/v1/tags/{tag}/"), ("post", f"/api/v1/contacts/{c}/tags/"),
        ("post", f"/api/v1/contacts/{c}/merge/"), ("post", f"/api/v1/contacts/{c}/merge/preview/"),
        ("post", "/api/v1/api-keys/"), ("post", "/api/v1/exports/"),
    ]
    bad = []
    for method, url in urls:
        for body in BODIES:
            r = getattr(raw, method)(url, data=json.dumps(body), content_type="application/json")
            if r.status_code >= 500:
                bad.append((method, url, body, r.status_code, r.content[:300]))
    assert not bad, "\n".join(map(str, bad))

"""Probes (temporary): methods."""
import io
import pytest

from contacts_service.roles import Role

pytestmark = pytest.mark.django_db


def test_methods(client_for, tenant):
    api = client_for(tenant)
    api.raise_request_exception = False
    c = api.post("/api/v1/contacts/", {"email": "a@x.test"}, format="json").json()["id"]
    c2 = api.post("/api/v1/contacts/", {"email": "b@x.test"}, format="json").json()["id"]
    lst = api.post("/api/v1/lists/", {"name": "L"}, format="json").json()["id"]
    tag = api.post("/api/v1/tags/", {"name": "T"}, format="json").json()["id"]
    m = api.post(f"/api/v1/contacts/{c}/merge/", {"others": [c2]}, format="json").json()["merge_id"]
    exp = api.post("/api/v1/exports/", {}, format="json").json()["id"]
    imp = api.post("/api/v1/imports/", {"file": io.BytesIO(b"email\nz@x.test\n")}, format="multipart").json()["id"]
    urls = ["/api/v1/me/", "/api/v1/contacts/", f"/api/v1/contacts/{c}/", f"/api/v1/contacts/{c}/history/",
            f"/api/v1/contacts/{c}/timeline/", f"/api/v1/contacts/{c}/tags/", f"/api/v1/contacts/{c}/restore/",
            f"/api/v1/contacts/{c}/export/", f"/api/v1/contacts/{c}/consents/", f"/api/v1/contacts/{c}/activities/",
            f"/api/v1/contacts/{c}/merge/", f"/api/v1/contacts/{c}/merge/preview/", "/api/v1/contacts/resolve/",
            "/api/v1/lists/", f"/api/v1/lists/{lst}/", f"/api/v1/lists/{lst}/contacts/", f"/api/v1/lists/{lst}/shares/",
            f"/api/v1/lists/{lst}/copy/", f"/api/v1/lists/{lst}/merge/", "/api/v1/lists/combine/", "/api/v1/lists/preview/",
            f"/api/v1/lists/{lst}/contacts/remove/",
            "/api/v1/tags/", f"/api/v1/tags/{tag}/", f"/api/v1/tags/{tag}/apply/", "/api/v1/merges/", f"/api/v1/merges/{m}/",
            f"/api/v1/merges/{m}/undo/", "/api/v1/duplicates/", "/api/v1/duplicates/recompute/", "/api/v1/matching-rules/",
            "/api/v1/events/", "/api/v1/events/replay/", "/api/v1/activities/", "/api/v1/imports/", f"/api/v1/imports/{imp}/",
            f"/api/v1/imports/{imp}/start/", "/api/v1/exports/", f"/api/v1/exports/{exp}/", f"/api/v1/exports/{exp}/download/",
            "/api/v1/api-keys/", "/api/v1/consent-purposes/", "/api/v1/attribute-definitions/"]
    bad = []
    for role in Role.values:
        cl = client_for(tenant, role)
        cl.raise_request_exception = False
        for url in urls:
            allow = api.options(url)
            allowed = {x.strip().lower() for x in allow.get("Allow", "").split(",") if x.strip()}
            for method in ("get", "post", "put", "patch", "delete", "options", "head"):
                r = getattr(cl, method)(url)
                if method not in allowed and r.status_code != 405:
                    bad.append((role, method, url, r.status_code, sorted(allowed)))
                if r.status_code >= 500:
                    bad.append((role, method, url, r.status_code, r.content[:200]))
                if method == "options" and r.status_code != 200:
                    bad.append((role, method, url, r.status_code))
    assert not bad, "\n".join(map(str, bad))

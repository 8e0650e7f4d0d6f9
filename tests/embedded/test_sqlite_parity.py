"""The embedded default of ./scripts/run (SQLite): the attribute filter, and switching from page 1 to
next_cursor with null emails, as on PostgreSQL."""

from tests.embedded.test_sqlite_default import run_embedded

PRELUDE = r"""
import json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from rest_framework.test import APIClient
from contacts_service import services
from contacts_service.models import Tenant
tenant = Tenant.objects.create(name="embedded")
api = APIClient(raise_request_exception=False)
key = services.apikey_create(tenant=tenant, name="k", role="owner").key
api.credentials(HTTP_AUTHORIZATION="Api-Key " + key)
out = {}
"""


def on_sqlite(tmp_path, body: str) -> dict:
    """`body` (API calls filling `out`) run by the embedded default in a process of its own: its `out`."""
    return run_embedded(tmp_path, PRELUDE + body + '\nprint("RESULT " + json.dumps(out))\n')


def on_postgresql(api, tenant, body: str) -> dict:
    """The same `body` run here, on PostgreSQL, with an owner's client: the reference `out`."""
    import json

    scope = {"api": api, "tenant": tenant, "out": {}, "json": json}
    exec(body, scope)
    return scope["out"]


ATTRIBUTE_FILTER = (
    PRELUDE
    + r"""
api.post("/api/v1/attribute-definitions/", {"key": "plan", "label": "Plan", "type": "string"}, format="json")
api.post("/api/v1/contacts/", {"email": "ann@x.example", "attributes": {"plan": "pro"}}, format="json")
api.post("/api/v1/contacts/", {"email": "bob@x.example", "attributes": {"plan": "free"}}, format="json")
r = api.get("/api/v1/contacts/", {"attribute": "plan:pro"})
emails = [c["email"] for c in r.json().get("results", [])] if r.status_code == 200 else None
out["list"] = [r.status_code, emails]
r = api.post("/api/v1/exports/", {"filters": {"attribute": "plan:pro"}}, format="json")
out["export"] = r.status_code
tag = api.post("/api/v1/tags/", {"name": "VIP"}, format="json").json()
r = api.post(f"/api/v1/tags/{tag['id']}/apply/", {"filter": {"attribute": "plan:pro"}}, format="json")
out["bulk"] = r.status_code
print("RESULT " + json.dumps(out))
"""
)


def test_attribute_filter_works_in_the_embedded_default(tmp_path):
    """docs/api.md (List parameters): ?attribute=plan:pro. On SQLite the filter's
    `attributes__contains` (contacts/filters.py filter_attribute) raises NotSupportedError: a 500 on
    GET /contacts/, POST /exports/ and bulk selections with that filter."""
    out = run_embedded(tmp_path, ATTRIBUTE_FILTER)
    assert out == {"list": [200, ["ann@x.example"]], "export": 201, "bulk": 200}


PAGE_THEN_CURSOR = (
    PRELUDE
    + r"""
bodies = ({"email": "a@x.example"}, {"email": "b@x.example"},
          {"phone": "+33612345601"}, {"phone": "+33612345602"})
for body in bodies:
    assert api.post("/api/v1/contacts/", body, format="json").status_code == 201
for order in ("email", "-email"):
    first = api.get("/api/v1/contacts/", {"ordering": order, "page_size": 2}).json()
    seen = [c["id"] for c in first["results"]]
    cursor = first["next_cursor"]
    while cursor:
        page = api.get("/api/v1/contacts/", {"ordering": order, "page_size": 2, "cursor": cursor}).json()
        seen += [c["id"] for c in page["results"]]
        cursor = page["next_cursor"]
    out[order] = [len(seen), len(set(seen))]
print("RESULT " + json.dumps(out))
"""
)


def test_page_one_then_next_cursor_reaches_every_contact_in_the_embedded_default(tmp_path):
    """docs/api.md (Paging): a page-number page carries next_cursor, so a client can switch to cursors
    after page 1. On SQLite the page-number page orders null emails where SQLite puts them (first
    when ascending, last when descending) but the cursor (contacts_service/pagination.py `_after`)
    assumes PostgreSQL's placement: with ?ordering=email page 1 shows the two contacts without email
    and next_cursor is null, so the other two are never reached (likewise with -email)."""
    out = run_embedded(tmp_path, PAGE_THEN_CURSOR)
    assert out == {"email": [4, 4], "-email": [4, 4]}


import pytest  # noqa: E402


@pytest.mark.django_db
def test_control_page_one_then_next_cursor_on_postgresql(api):
    """The same flow on PostgreSQL reaches all four contacts (passes): the failure above is SQLite-only."""
    for body in (
        {"email": "a@x.example"},
        {"email": "b@x.example"},
        {"phone": "+33612345601"},
        {"phone": "+33612345602"},
    ):
        assert api.post("/api/v1/contacts/", body, format="json").status_code == 201
    for order in ("email", "-email"):
        first = api.get("/api/v1/contacts/", {"ordering": order, "page_size": 2}).json()
        seen, cursor = [c["id"] for c in first["results"]], first["next_cursor"]
        while cursor:
            page = api.get("/api/v1/contacts/", {"ordering": order, "page_size": 2, "cursor": cursor}).json()
            seen, cursor = seen + [c["id"] for c in page["results"]], page["next_cursor"]
        assert len(set(seen)) == 4


EXPORT_WARNINGS = (
    PRELUDE
    + r"""
import warnings
warnings.simplefilter("error", RuntimeWarning)  # a naive datetime in a filter warns
for n in range(3):
    api.post("/api/v1/contacts/", {"email": f"p{n}@x.example"}, format="json")
job = api.post("/api/v1/exports/", {}, format="json").json()
job = api.get(f"/api/v1/exports/{job['id']}/").json()
body = b"".join(api.get(job["download_url"]).streaming_content).decode()
out["export"] = [job["status"], job["row_count"], body.count("@x.example")]
print("RESULT " + json.dumps(out))
"""
)


def test_an_export_on_sqlite_reads_its_chunk_bounds_as_aware_times(tmp_path):
    assert run_embedded(tmp_path, EXPORT_WARNINGS) == {"export": ["completed", 3, 3]}

"""Tag and list names unique ignoring case in the embedded default (SQLite), as on PostgreSQL (found by
a bug hunt): SQLite's lower() is each character lower-cased on its own, as PostgreSQL's, where
str.lower() mapped in context ("İ" to "i" and a combining dot, a final "Σ" to "ς"), so "istanbul" and
"οδοσ" were second tags beside "İstanbul" and "ΟΔΟΣ"."""

import pytest

from tests.embedded.test_sqlite_parity import on_postgresql, on_sqlite

BODY = r"""
out["tag İstanbul"] = api.post("/api/v1/tags/", {"name": "İstanbul"}, format="json").status_code
out["tag istanbul"] = api.post("/api/v1/tags/", {"name": "istanbul"}, format="json").status_code
out["tag ΟΔΟΣ"] = api.post("/api/v1/tags/", {"name": "ΟΔΟΣ"}, format="json").status_code
out["tag οδοσ"] = api.post("/api/v1/tags/", {"name": "οδοσ"}, format="json").status_code
out["list İzmir"] = api.post("/api/v1/lists/", {"name": "İzmir"}, format="json").status_code
out["list izmir"] = api.post("/api/v1/lists/", {"name": "izmir"}, format="json").status_code
cid = api.post("/api/v1/contacts/", {"email": "a@x.example"}, format="json").json()["id"]
r = api.post(f"/api/v1/contacts/{cid}/tags/", {"tags": ["istanbul"]}, format="json")
out["tagged with"] = [t["name"] for t in r.json()["tags"]]
"""
EXPECTED = {
    "tag İstanbul": 201,
    "tag istanbul": 400,
    "tag ΟΔΟΣ": 201,
    "tag οδοσ": 400,
    "list İzmir": 201,
    "list izmir": 400,
    "tagged with": ["İstanbul"],
}


def test_tag_and_list_names_clash_ignoring_case_as_on_postgresql(tmp_path):
    assert on_sqlite(tmp_path, BODY) == EXPECTED


@pytest.mark.django_db
def test_control_name_clashes_on_postgresql(api, tenant):
    """The same calls on PostgreSQL: the reference answer."""
    assert on_postgresql(api, tenant, BODY) == EXPECTED

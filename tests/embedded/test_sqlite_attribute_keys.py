"""?attribute= with a key holding "__" (score__gt): the key itself, on SQLite as on PostgreSQL (a
lookup path written attributes__<key> would read it as score plus the lookup gt)."""

from tests.embedded.test_sqlite_default import run_embedded
from tests.embedded.test_sqlite_parity import PRELUDE

DEFINITIONS = "/api/v1/attribute-definitions/"
CONTACTS = "/api/v1/contacts/"
SCRIPT = (
    PRELUDE
    + r"""
for k in ("score", "score__gt"):
    body = {"key": k, "label": k, "type": "number"}
    out["def " + k] = api.post("/api/v1/attribute-definitions/", body, format="json").status_code
api.post("/api/v1/contacts/", {"email": "ann@x.example", "attributes": {"score": 10}}, format="json")
body = {"email": "bob@x.example", "attributes": {"score": 1, "score__gt": 5}}
api.post("/api/v1/contacts/", body, format="json")
r = api.get("/api/v1/contacts/", {"attribute": "score__gt:5"})
out["filter"] = [r.status_code, sorted(c["email"] for c in r.json().get("results", []))]
print("RESULT " + json.dumps(out))
"""
)


def test_sqlite_attribute_key_with_double_underscore(tmp_path):
    out = run_embedded(tmp_path, SCRIPT)
    assert out == {"def score": 201, "def score__gt": 201, "filter": [200, ["bob@x.example"]]}


def test_postgresql_attribute_key_with_double_underscore(api, tenant):
    for key in ("score", "score__gt"):
        body = {"key": key, "label": key, "type": "number"}
        assert api.post(DEFINITIONS, body, format="json").status_code == 201
    api.post(CONTACTS, {"email": "ann@x.example", "attributes": {"score": 10}}, format="json")
    api.post(CONTACTS, {"email": "bob@x.example", "attributes": {"score": 1, "score__gt": 5}}, format="json")
    response = api.get(CONTACTS, {"attribute": "score__gt:5"})
    assert sorted(c["email"] for c in response.json()["results"]) == ["bob@x.example"]

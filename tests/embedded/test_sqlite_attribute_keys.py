"""?attribute= with a key holding "__" (score__gt, defined before such keys were refused): the key
itself, on SQLite as on PostgreSQL (a lookup path written attributes__<key> would read it as score
plus the lookup gt). New keys with "__" are refused."""

from contacts.models import AttributeDefinition
from tests.embedded.test_sqlite_default import run_embedded
from tests.embedded.test_sqlite_parity import PRELUDE

CONTACTS = "/api/v1/contacts/"
SCRIPT = (
    PRELUDE
    + r"""
from contacts.models import AttributeDefinition
for k in ("score", "score__gt"):
    AttributeDefinition.objects.unscoped().create(tenant=tenant, key=k, label=k, type="number")
api.post("/api/v1/contacts/", {"email": "ann@x.example", "attributes": {"score": 10}}, format="json")
body = {"email": "bob@x.example", "attributes": {"score": 1, "score__gt": 5}}
api.post("/api/v1/contacts/", body, format="json")
r = api.get("/api/v1/contacts/", {"attribute": "score__gt:5"})
out["filter"] = [r.status_code, sorted(c["email"] for c in r.json().get("results", []))]
print("RESULT " + json.dumps(out))
"""
)


def test_sqlite_attribute_key_with_double_underscore(tmp_path):
    assert run_embedded(tmp_path, SCRIPT) == {"filter": [200, ["bob@x.example"]]}


def test_postgresql_attribute_key_with_double_underscore(api, tenant):
    for key in ("score", "score__gt"):
        AttributeDefinition.objects.unscoped().create(tenant=tenant, key=key, label=key, type="number")
    api.post(CONTACTS, {"email": "ann@x.example", "attributes": {"score": 10}}, format="json")
    api.post(CONTACTS, {"email": "bob@x.example", "attributes": {"score": 1, "score__gt": 5}}, format="json")
    response = api.get(CONTACTS, {"attribute": "score__gt:5"})
    assert sorted(c["email"] for c in response.json()["results"]) == ["bob@x.example"]


def test_new_keys_with_double_underscore_are_refused(api, tenant):
    body = {"key": "score__gt", "label": "S", "type": "number"}
    response = api.post("/api/v1/attribute-definitions/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "key", "code": "invalid", "message": "No __ (two underscores in a row)."}
    ]
    assert not AttributeDefinition.objects.unscoped().filter(tenant=tenant).exists()


def _preview(api, field, op, value=None):
    rule = {"field": field, "op": op} | ({} if value is None else {"value": value})
    response = api.post(
        "/api/v1/lists/preview/", {"rules": {"operator": "and", "rules": [rule]}}, format="json"
    )
    assert response.status_code == 200, response.content
    return sorted(c["email"] for c in response.json()["results"])


def test_segment_rules_on_a_key_with_double_underscore_read_the_key_itself(api, tenant):
    for key, kind in (("score", "number"), ("score__gt", "number"), ("plan__x", "string")):
        AttributeDefinition.objects.unscoped().create(tenant=tenant, key=key, label=key, type=kind)
    people = {
        "ann@x.example": {"score": 10},
        "bob@x.example": {"score": 1, "score__gt": 5, "plan__x": "Pro plan"},
        "cat@x.example": {"score__gt": 2, "plan__x": ""},
    }
    for email, attributes in people.items():
        assert (
            api.post(CONTACTS, {"email": email, "attributes": attributes}, format="json").status_code == 201
        )
    # read as score > 5 before: ann
    assert _preview(api, "attributes.score__gt", "eq", 5) == ["bob@x.example"]
    assert _preview(api, "attributes.score__gt", "gt", 3) == ["bob@x.example"]
    assert _preview(api, "attributes.score__gt", "neq", 5) == ["ann@x.example", "cat@x.example"]
    assert _preview(api, "attributes.score__gt", "in", [2, 9]) == ["cat@x.example"]
    assert _preview(api, "attributes.score__gt", "is_empty") == ["ann@x.example"]
    assert _preview(api, "attributes.plan__x", "contains", "pro") == ["bob@x.example"]
    assert _preview(api, "attributes.plan__x", "starts_with", "pro") == ["bob@x.example"]
    assert _preview(api, "attributes.plan__x", "is_empty") == ["ann@x.example", "cat@x.example"]
    assert _preview(api, "attributes.plan__x", "is_not_empty") == ["bob@x.example"]
    assert _preview(api, "attributes.score", "gte", 10) == ["ann@x.example"]

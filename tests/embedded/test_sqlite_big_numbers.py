"""Number attributes past 2^63 in segment rules, in the embedded default (SQLite): the API stores and
returns 1e20 as the integer 100000000000000000000, and a rule comparing with it (lt, lte, gt, gte) binds it
as a real on SQLite (its integers have 64 bits), finding the contacts PostgreSQL finds."""

from tests.embedded.test_sqlite_parity import on_sqlite

BODY = r"""
definition = {"key": "score", "label": "Score", "type": "number"}
api.post("/api/v1/attribute-definitions/", definition, format="json")
r = api.post("/api/v1/contacts/", {"email": "ann@x.example", "attributes": {"score": 1e20}}, format="json")
stored = r.json()["attributes"]["score"]
out["stored"] = stored
api.post("/api/v1/contacts/", {"email": "bob@x.example", "attributes": {"score": 3}}, format="json")

def preview(op):
    rules = {"operator": "and", "rules": [{"field": "attributes.score", "op": op, "value": stored}]}
    r = api.post("/api/v1/lists/preview/", {"rules": rules}, format="json")
    return [r.status_code, sorted(c["email"] for c in r.json()["results"]) if r.status_code == 200 else None]

for op in ("gte", "lt"):
    out[op] = preview(op)
"""


def test_a_rule_comparing_with_a_stored_big_number_in_the_embedded_default(tmp_path):
    """POST /lists/preview/ with {"op": "gte"|"lt", "value": 100000000000000000000}, the value GET shows
    for 1e20: the matching contacts, as on PostgreSQL."""
    assert on_sqlite(tmp_path, BODY) == {
        "stored": 100000000000000000000,
        "gte": [200, ["ann@x.example"]],
        "lt": [200, ["bob@x.example"]],
    }

"""PATCH /attribute-definitions/{id}/ removing choices, in the embedded default (SQLite), as on
PostgreSQL (found by a bug hunt): a choice still used is a 400 in_use, an unused one goes. The check
compared a KeyTextTransform annotation with each choice, which SQLite wrapped in JSON_EXTRACT(%s):
"Gold" was malformed JSON (a 500) and "1" the number 1 (an in-use choice removed)."""

import pytest

from tests.embedded.test_sqlite_parity import on_postgresql, on_sqlite

BODY = r"""
d = api.post("/api/v1/attribute-definitions/", {"key": "tier", "label": "Tier", "type": "choice",
             "choices": ["Gold", "Silver", "1", "Bronze"]}, format="json").json()
api.post("/api/v1/contacts/", {"email": "a@x.example", "attributes": {"tier": "Gold"}}, format="json")
api.post("/api/v1/contacts/", {"email": "b@x.example", "attributes": {"tier": "1"}}, format="json")

def patch(choices):
    r = api.patch(f"/api/v1/attribute-definitions/{d['id']}/", {"choices": choices}, format="json")
    body = r.json() if r["Content-Type"].startswith("application/json") else {}
    return [r.status_code, [e.get("code") for e in body.get("errors", [])]]

out["remove used Gold"] = patch(["Silver", "1", "Bronze"])
out["remove used 1"] = patch(["Gold", "Silver", "Bronze"])
out["remove unused Bronze"] = patch(["Gold", "Silver", "1"])
"""
EXPECTED = {
    "remove used Gold": [400, ["in_use"]],
    "remove used 1": [400, ["in_use"]],
    "remove unused Bronze": [200, []],
}


def test_removing_attribute_choices_on_sqlite(tmp_path):
    assert on_sqlite(tmp_path, BODY) == EXPECTED


@pytest.mark.django_db
def test_control_removing_attribute_choices_on_postgresql(api, tenant):
    """The same calls on PostgreSQL: the reference answer."""
    assert on_postgresql(api, tenant, BODY) == EXPECTED

"""A dynamic list whose rules name a tag with a NUL character."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "patch"])
def test_rules_naming_a_tag_with_a_nul_are_a_400(api, method):
    """POST /lists/ and PATCH /lists/{id}/ hold the tags the rules name before checking the rules: a
    name with a NUL names no tag and is left for the check, a 400 (not sent to PostgreSQL, a 500)."""
    rules = {"operator": "and", "rules": [{"field": "tags", "op": "any", "value": ["a\u0000b"]}]}
    if method == "post":
        response = api.post(
            "/api/v1/lists/", {"name": "Seg", "kind": "dynamic", "rules": rules}, format="json"
        )
    else:
        ok = {"operator": "and", "rules": [{"field": "first_name", "op": "eq", "value": "Ann"}]}
        created = api.post("/api/v1/lists/", {"name": "Seg", "kind": "dynamic", "rules": ok}, format="json")
        assert created.status_code == 201, created.json()
        response = api.patch(f"/api/v1/lists/{created.json()['id']}/", {"rules": rules}, format="json")
    assert response.status_code == 400, (response.status_code, response.content[:300])

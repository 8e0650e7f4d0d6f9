"""docs/api.md, the OpenAPI schema (/api/schema/) and the behaviour agree: answers fit their schema
(with the fields some error codes add), preview rows keep one shape, every 409 code is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import override_settings

from tests.contract.schema_check import raw_schema, validate
from tests.factories import MembershipFactory, UserFactory
from tests.imports.conftest import job_url, upload

API_MD = Path(__file__).resolve().parents[2] / "docs" / "api.md"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _component(ref: str) -> dict:
    return raw_schema()["components"]["schemas"][ref.rsplit("/", 1)[-1]]


def _response_schema(path: str, method: str, status: int) -> dict:
    schema = raw_schema()["paths"][path][method]["responses"][str(status)]["content"]["application/json"][
        "schema"
    ]
    return _component(schema["$ref"]) if "$ref" in schema else schema


def _documented_409_codes() -> set[str]:
    """The codes of the 409 row of docs/api.md's Errors table."""
    row = next(line for line in API_MD.read_text().splitlines() if line.startswith("| 409 |"))
    return set(re.findall(r"`([a-z_]+)`", row.split("|")[2]))


def _plans(**limits):
    base = {"tenant": 1_000, "api_key": 1_000, "user": 1_000, "expensive": 1_000}
    return {plan: {**base, **limits} for plan in ("free", "standard", "enterprise")}


# -- OpenAPI schema against real answers ---------------------------------------------------------


@pytest.mark.django_db
def test_list_shares_answer_fits_its_schema(api, tenant):
    """docs/api.md:772 "`GET /lists/{id}/shares/` | lists.manage | members the list is shared with:
    `[{user_id, email, role, permission: "manage_list"}]`": a plain array (as the code answers), but the
    schema documents PaginatedListShareList, an object {count, next, previous, results}."""
    member = UserFactory(email="m@x.example")
    MembershipFactory(tenant=tenant, user=member, role="contacts_viewer")
    listing = api.post("/api/v1/lists/", {"name": "News"}, format="json").json()
    assert (
        api.post(
            f"/api/v1/lists/{listing['id']}/shares/", {"user_id": str(member.id)}, format="json"
        ).status_code
        == 201
    )

    response = api.get(f"/api/v1/lists/{listing['id']}/shares/")

    assert response.status_code == 200
    assert isinstance(response.json(), list)
    validate(response, "/api/v1/lists/{id}/shares/", "get")


@pytest.mark.django_db
def test_segment_preview_schema_names_every_field_of_the_answer(api):
    """docs/api.md:775 "`POST /lists/preview/` ... -> `{count, next, previous, results}`": the answer also
    carries `count_is_estimate` and `next_cursor` (it is paged like every list), which neither the doc
    line nor the SegmentPreview schema name, so a generated client drops them."""
    api.post("/api/v1/contacts/", {"email": "a@x.example", "country": "FR"}, format="json")
    rules = {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]}

    response = api.post("/api/v1/lists/preview/", {"rules": rules}, format="json")

    assert response.status_code == 200
    documented = set(_response_schema("/api/v1/lists/preview/", "post", 200)["properties"])
    assert set(response.json()) <= documented, sorted(set(response.json()) - documented)


@pytest.mark.django_db
def test_rate_limited_body_fields_are_in_the_error_schema(client_for, tenant):
    """docs/api.md:97-101 (429 body): a 429 body carries `"retry_after"` and `"limit": {scope, limit,
    period_seconds, plan}`. Every operation's 429 response in the schema is the plain Error component
    (code, message, errors, correlation_id), which has neither field."""
    with override_settings(RATE_LIMIT_PLANS=_plans(api_key=1)):
        client = client_for(tenant)
        assert client.get("/api/v1/me/").status_code == 200
        refused = client.get("/api/v1/me/")

    assert refused.status_code == 429
    assert {"retry_after", "limit"} <= set(refused.json())
    documented = set(_response_schema("/api/v1/me/", "get", 429)["properties"])
    assert set(refused.json()) <= documented, sorted(set(refused.json()) - documented)


@pytest.mark.django_db
def test_merged_conflict_fields_are_in_the_error_schema(api):
    """docs/api.md:438 "refused with a 409 `merged` (`merge_id` and `primary_id` in the body)": the body
    has them, the schema's 409 for erase is the Error component without them."""
    primary = api.post("/api/v1/contacts/", {"email": "p@x.example"}, format="json").json()
    other = api.post("/api/v1/contacts/", {"email": "o@x.example"}, format="json").json()
    merged = api.post(f"/api/v1/contacts/{primary['id']}/merge/", {"others": [other["id"]]}, format="json")
    assert merged.status_code == 201

    refused = api.post(f"/api/v1/contacts/{other['id']}/erase/")

    assert refused.status_code == 409 and refused.json()["code"] == "merged"
    documented = set(_response_schema("/api/v1/contacts/{id}/erase/", "post", 409)["properties"])
    assert {"merge_id", "primary_id"} <= documented, sorted({"merge_id", "primary_id"} - documented)


# -- Imports ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_preview_rows_keep_their_shape_when_the_mapping_is_incomplete(api):
    """docs/api.md:572-573 "`preview`: the first 20 rows ..., each `{line, action:
    create|update|skip|error, values, errors, contact_id}`". While the mapping has problems
    (imports/services.py preview()), each row lacks `contact_id` and its `errors` holds objects
    ({"field", "message"}) where every other preview row holds strings ("email: Enter a valid ...")."""
    created = upload(api, "Foo,Bar\n1,2\n")
    assert created.status_code == 201
    job = created.json()
    assert job["problems"], "the mapping should have a problem (no email/phone/external_id mapped)"

    row = job["preview"][0]

    assert set(row) == {"line", "action", "values", "errors", "contact_id"}, sorted(row)
    assert all(isinstance(error, str) for error in row["errors"]), row["errors"]


# -- Error codes -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_409_of_a_dynamic_list_uses_a_documented_code(api):
    """docs/api.md:64, the Errors table: "| 409 | `conflict` / `unique` / `in_use` / `erased` / `merged` /
    `changed_since` / `later_merge` / `already_undone` / `started` |". Adding members to a dynamic list
    (docs/api.md:767, "409 on a dynamic list") answers code `dynamic`, which no line of the doc names."""
    contact = api.post("/api/v1/contacts/", {"email": "a@x.example", "country": "FR"}, format="json").json()
    rules = {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]}
    segment = api.post(
        "/api/v1/lists/", {"name": "FR", "kind": "dynamic", "rules": rules}, format="json"
    ).json()

    refused = api.post(
        f"/api/v1/lists/{segment['id']}/contacts/", {"contact_ids": [contact["id"]]}, format="json"
    )

    assert refused.status_code == 409
    assert refused.json()["code"] in _documented_409_codes(), refused.json()["code"]


@pytest.mark.django_db
def test_cancelling_a_finished_import_uses_a_documented_code(api):
    """docs/api.md:586 "`POST /imports/{id}/cancel/` cancels a draft or queued job at once and a running
    one after its current batch" and the Errors table's 409 codes (:64): cancelling a cancelled (or
    completed) job is a 409 `finished`, a code the doc never names."""
    job = upload(api, "email\na@x.example\n").json()
    assert api.post(job_url(job["id"], "cancel")).status_code == 200

    refused = api.post(job_url(job["id"], "cancel"))

    assert refused.status_code == 409
    assert refused.json()["code"] in _documented_409_codes(), refused.json()["code"]

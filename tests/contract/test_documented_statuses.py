"""The OpenAPI document (/api/schema/) against what the endpoints answer in states the schemathesis
run's seed data never reaches: each status is documented and the body fits it."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.contract.schema_check import documented_statuses, validate


def _contact(api, **body):
    r = api.post("/api/v1/contacts/", body, format="json")
    assert r.status_code == 201, r.content
    return r.json()


def _assert_documented(response, path, method, status):
    assert response.status_code == status, response.content
    assert str(status) in documented_statuses(path, method), (
        f"{method.upper()} {path} answers {status} ({response.json()['code']}) but the schema documents only "
        f"{sorted(documented_statuses(path, method))}"
    )
    validate(response, path, method)


@pytest.mark.django_db
def test_restore_conflict_409_is_documented(api):
    """docs/api.md: restore is a 409 if its email was taken meanwhile."""
    gone = _contact(api, email="a@x.example")
    api.delete(f"/api/v1/contacts/{gone['id']}/")
    _contact(api, email="a@x.example")
    r = api.post(f"/api/v1/contacts/{gone['id']}/restore/")
    _assert_documented(r, "/api/v1/contacts/{id}/restore/", "post", 409)


@pytest.mark.django_db
def test_erase_of_a_merged_contact_409_is_documented(api):
    """docs/api.md (GDPR: erase): a contact merged into another is a 409 `merged`."""
    primary, other = _contact(api, email="p@x.example"), _contact(api, email="o@x.example")
    assert (
        api.post(
            f"/api/v1/contacts/{primary['id']}/merge/", {"others": [other["id"]]}, format="json"
        ).status_code
        == 201
    )
    r = api.post(f"/api/v1/contacts/{other['id']}/erase/")
    _assert_documented(r, "/api/v1/contacts/{id}/erase/", "post", 409)


@pytest.mark.django_db
def test_attribute_definition_in_use_409_is_documented(api):
    d = api.post(
        "/api/v1/attribute-definitions/", {"key": "plan", "label": "P", "type": "string"}, format="json"
    ).json()
    _contact(api, email="a@x.example", attributes={"plan": "x"})
    r = api.delete(f"/api/v1/attribute-definitions/{d['id']}/")
    _assert_documented(r, "/api/v1/attribute-definitions/{id}/", "delete", 409)


@pytest.mark.django_db
def test_consent_purpose_in_use_409_is_documented(api):
    c = _contact(api, email="a@x.example")
    body = {"channel": "email", "purpose": "marketing", "status": "granted"}
    assert api.post(f"/api/v1/contacts/{c['id']}/consents/", body, format="json").status_code == 201
    purposes = api.get("/api/v1/consent-purposes/").json()
    marketing = next(p for p in purposes if p["key"] == "marketing")
    r = api.delete(f"/api/v1/consent-purposes/{marketing['id']}/")
    _assert_documented(r, "/api/v1/consent-purposes/{id}/", "delete", 409)


@pytest.mark.django_db
def test_import_options_after_start_409_is_documented(api):
    """docs/api.md (Imports 2.): PATCH /imports/{id}/ is draft only, else 409."""
    csv = SimpleUploadedFile("a.csv", b"email,first_name\ncat@a.example,Cat\n", content_type="text/csv")
    job = api.post("/api/v1/imports/", {"file": csv}, format="multipart").json()
    assert api.post(f"/api/v1/imports/{job['id']}/start/").status_code == 200
    r = api.patch(f"/api/v1/imports/{job['id']}/", {"on_match": "skip"}, format="json")
    _assert_documented(r, "/api/v1/imports/{id}/", "patch", 409)
    r = api.post(f"/api/v1/imports/{job['id']}/start/")
    _assert_documented(r, "/api/v1/imports/{id}/start/", "post", 409)


@pytest.mark.django_db
def test_adding_members_to_a_dynamic_list_409_is_documented(api):
    """docs/api.md (Lists): POST /lists/{id}/contacts/ and /merge/ are a 409 on a dynamic list."""
    c = _contact(api, email="a@x.example")
    rules = {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Lyon"}]}
    dyn = api.post("/api/v1/lists/", {"name": "D", "kind": "dynamic", "rules": rules}, format="json").json()
    static = api.post("/api/v1/lists/", {"name": "S"}, format="json").json()
    r = api.post(f"/api/v1/lists/{dyn['id']}/contacts/", {"contact_ids": [c["id"]]}, format="json")
    _assert_documented(r, "/api/v1/lists/{id}/contacts/", "post", 409)
    r = api.post(f"/api/v1/lists/{dyn['id']}/merge/", {"lists": [static["id"]]}, format="json")
    _assert_documented(r, "/api/v1/lists/{id}/merge/", "post", 409)


@pytest.mark.django_db
def test_non_json_body_415_is_documented(api):
    """docs/api.md (Errors): 415 unsupported_media_type for a body that is not application/json."""
    r = api.post(
        "/api/v1/contacts/", data="email=a@x.example", content_type="application/x-www-form-urlencoded"
    )
    _assert_documented(r, "/api/v1/contacts/", "post", 415)

"""409 bodies carry only fields the Error component of the schema names (a generated client would drop
the others, and a strict validator refuse the answer). Found by a schema-versus-responses hunt."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from imports.models import ImportJob
from tests.contract.strict import errors_of

P = "/api/v1"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def _documented_409_fields(path: str, method: str) -> set[str]:
    from tests.contract.strict import component, operation

    schema = operation(path, method)["responses"]["409"]["content"]["application/json"]["schema"]
    return set(component(schema["$ref"].rsplit("/", 1)[-1])["properties"])


@pytest.mark.django_db
def test_list_delete_in_use_segments_field_is_in_the_schema(api):
    """docs/api.md (Lists): DELETE /lists/{id}/ of a static list a segment names is "409 `in_use` with
    `segments` (`[{id, name}]`)", and lists/api.py's _IN_USE description says so too.
    Expected: the 409 schema (Error component, contacts_service/serializers.py ErrorSerializer) names
    `segments`. Actual: the body carries `segments`, the Error component has no such property."""
    static = api.post(f"{P}/lists/", {"name": "S"}, format="json").json()
    rules = {"operator": "and", "rules": [{"field": "lists", "op": "in", "value": [static["id"]]}]}
    assert (
        api.post(f"{P}/lists/", {"name": "D", "kind": "dynamic", "rules": rules}, format="json").status_code
        == 201
    )

    refused = api.delete(f"{P}/lists/{static['id']}/")

    assert refused.status_code == 409 and refused.json()["code"] == "in_use"
    assert "segments" in refused.json()
    assert "segments" in _documented_409_fields("/api/v1/lists/{id}/", "delete"), errors_of(
        refused, "/api/v1/lists/{id}/", "delete"
    )


@pytest.mark.django_db
def test_list_delete_in_use_imports_field_is_in_the_schema(api, tenant):
    """docs/api.md (Lists): a list an import queued or running adds its rows to is kept: "409 `in_use`
    with `imports` (their ids)". Expected: the 409 schema names `imports`. Actual: the body carries
    `imports`; neither the Error component nor lists/api.py's _IN_USE description mention it."""
    static = api.post(f"{P}/lists/", {"name": "S"}, format="json").json()
    csv = SimpleUploadedFile("a.csv", b"email\nq@a.example\n", content_type="text/csv")
    job = api.post(f"{P}/imports/", {"file": csv}, format="multipart").json()
    assert api.patch(f"{P}/imports/{job['id']}/", {"list_id": static["id"]}, format="json").status_code == 200
    ImportJob.objects.unscoped().filter(pk=job["id"]).update(status="queued")

    refused = api.delete(f"{P}/lists/{static['id']}/")

    assert refused.status_code == 409 and refused.json()["code"] == "in_use"
    assert refused.json()["imports"] == [job["id"]]
    assert "imports" in _documented_409_fields("/api/v1/lists/{id}/", "delete"), errors_of(
        refused, "/api/v1/lists/{id}/", "delete"
    )


@pytest.mark.django_db
def test_attribute_definition_in_use_count_is_in_the_schema(api):
    """DELETE /attribute-definitions/{id}/ of a definition contacts use: 409 `in_use` whose body adds
    `"in_use": <number of contacts>` (contacts/services/attributes.py Conflict(..., in_use=used)).
    Expected: the 409 schema names it (integer). Actual: the Error component has no `in_use` property."""
    definition = api.post(
        f"{P}/attribute-definitions/", {"key": "plan", "label": "P", "type": "string"}, format="json"
    ).json()
    api.post(f"{P}/contacts/", {"email": "a@x.example", "attributes": {"plan": "x"}}, format="json")

    refused = api.delete(f"{P}/attribute-definitions/{definition['id']}/")

    assert refused.status_code == 409 and refused.json()["in_use"] == 1
    assert "in_use" in _documented_409_fields("/api/v1/attribute-definitions/{id}/", "delete"), errors_of(
        refused, "/api/v1/attribute-definitions/{id}/", "delete"
    )

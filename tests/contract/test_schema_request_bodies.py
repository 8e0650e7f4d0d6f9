"""Request bodies the endpoint refuses are refused by the operation's documented request schema too
(empty arrays, formats, fields that cannot change, empty PATCH bodies, unknown fields). Found by a
schema-versus-responses hunt."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.contract.strict import operation, request_errors

P = "/api/v1"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


@pytest.fixture
def seeded(api):
    a = api.post(f"{P}/contacts/", {"email": "a@x.example", "first_name": "Ann"}, format="json").json()
    b = api.post(f"{P}/contacts/", {"email": "b@x.example", "first_name": "Bob"}, format="json").json()
    tag = api.post(f"{P}/tags/", {"name": "T"}, format="json").json()
    static = api.post(f"{P}/lists/", {"name": "S"}, format="json").json()
    definition = api.post(
        f"{P}/attribute-definitions/", {"key": "plan", "label": "Plan", "type": "string"}, format="json"
    ).json()
    return {"a": a, "b": b, "tag": tag, "list": static, "definition": definition}


def _send(api, method, url, body):
    return getattr(api, method)(url, body, format="json")


# (template, method, url builder, body, refused field)
EMPTY_ARRAYS = [
    (
        "/api/v1/tags/{id}/apply/",
        "post",
        lambda s: f"{P}/tags/{s['tag']['id']}/apply/",
        {"contact_ids": []},
        "contact_ids",
    ),
    (
        "/api/v1/lists/{id}/contacts/",
        "post",
        lambda s: f"{P}/lists/{s['list']['id']}/contacts/",
        {"contact_ids": []},
        "contact_ids",
    ),
    (
        "/api/v1/contacts/{id}/tags/",
        "post",
        lambda s: f"{P}/contacts/{s['a']['id']}/tags/",
        {"tags": []},
        "tags",
    ),
    (
        "/api/v1/contacts/{id}/merge/",
        "post",
        lambda s: f"{P}/contacts/{s['a']['id']}/merge/",
        {"others": []},
        "others",
    ),
    ("/api/v1/activities/", "post", lambda s: f"{P}/activities/", {"activities": []}, "activities"),
    ("/api/v1/exports/", "post", lambda s: f"{P}/exports/", {"columns": []}, "columns"),
    ("/api/v1/matching-rules/", "put", lambda s: f"{P}/matching-rules/", {"rules": [[]]}, "rules.0"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "template,method,url,body,field", EMPTY_ARRAYS, ids=[f"{m} {t} {f}" for t, m, _, _, f in EMPTY_ARRAYS]
)
def test_an_empty_array_the_endpoint_refuses_is_refused_by_the_schema(
    api, seeded, template, method, url, body, field
):
    """The serializers say allow_empty=False (contacts/serializers.py ContactSelectionSerializer,
    tags/serializers.py ContactTagsInputSerializer, contacts/serializers_merge.py MergeInputSerializer and
    MatchingRulesInputSerializer, events/serializers.py ActivityBatchInputSerializer, imports/serializers.py
    ExportCreateSerializer) and the endpoint answers 400 `empty`. Expected: the request schema says
    `minItems: 1`, so the body is invalid against it. Actual: the schema's array has no minItems and
    accepts the body the server refuses."""
    response = _send(api, method, url(seeded), body)
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]

    assert request_errors(body, template, method), f"the schema of {method.upper()} {template} accepts {body}"


@pytest.mark.django_db
def test_activity_batch_limit_of_500_is_in_the_schema(api, seeded):
    """docs/api.md (Limits): "Activities in one batch | 500 | 400, field `activities`, code `max_length`".
    Expected: ActivityBatchInputRequest.activities has maxItems 500. Actual: no maxItems (the limit is the
    ListSerializer's max_length of BatchActivityInputSerializer(many=True, max_length=500) in
    events/serializers.py, which drf-spectacular does not emit), so 501 items are schema-valid and refused."""
    body = {"activities": [{"contact_id": seeded["a"]["id"], "type": "email_opened"}] * 501}

    response = api.post(f"{P}/activities/", body, format="json")

    assert response.status_code == 400 and response.json()["errors"][0]["code"] == "max_length"
    assert request_errors(body, "/api/v1/activities/", "post"), "the schema accepts 501 activities"


PATTERNS = [
    # (template, method, url builder, body, refused field)
    (
        "/api/v1/attribute-definitions/",
        "post",
        lambda s: f"{P}/attribute-definitions/",
        {"key": "Plan", "label": "P", "type": "string"},
        "key",
    ),
    (
        "/api/v1/attribute-definitions/",
        "post",
        lambda s: f"{P}/attribute-definitions/",
        {"key": "a__b", "label": "P", "type": "string"},
        "key",
    ),
    ("/api/v1/tags/", "post", lambda s: f"{P}/tags/", {"name": "Red", "color": "red"}, "color"),
    ("/api/v1/tags/{id}/", "patch", lambda s: f"{P}/tags/{s['tag']['id']}/", {"color": "#FFF"}, "color"),
    (
        "/api/v1/contacts/{contact_pk}/activities/",
        "post",
        lambda s: f"{P}/contacts/{s['a']['id']}/activities/",
        {"type": "Email Opened"},
        "type",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "template,method,url,body,field", PATTERNS, ids=[f"{m} {t} {f}={b[f]}" for t, m, _, b, f in PATTERNS]
)
def test_a_format_the_endpoint_enforces_is_in_the_request_schema(
    api, seeded, template, method, url, body, field
):
    """Formats the service checks are patterns of the request schema: attribute `key` (lower-case, no
    `__`), tag `color` (#RRGGBB), activity `type` (like email_opened). A value the server refuses with a
    400 on the field is schema-invalid."""
    response = _send(api, method, url(seeded), body)
    assert response.status_code == 400, response.content
    assert [e["field"] for e in response.json()["errors"]] == [field]

    assert request_errors(body, template, method), f"the schema of {method.upper()} {template} accepts {body}"


IMMUTABLE = [
    ("/api/v1/attribute-definitions/{id}/", lambda s: f"{P}/attribute-definitions/{s['definition']['id']}/",
     {"key": "plan2"}, "key"),
    ("/api/v1/attribute-definitions/{id}/", lambda s: f"{P}/attribute-definitions/{s['definition']['id']}/",
     {"type": "number"}, "type"),
    ("/api/v1/lists/{id}/", lambda s: f"{P}/lists/{s['list']['id']}/", {"kind": "dynamic"}, "kind"),
]  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("template,url,body,field", IMMUTABLE, ids=[f"{t} {f}" for t, _, _, f in IMMUTABLE])
def test_a_patch_schema_offers_only_fields_that_can_change(api, seeded, template, url, body, field):
    """An attribute's `key` and `type` and a list's `kind` cannot change: the PATCH schemas leave them out
    (additionalProperties: false), so the value the server refuses with 400 `immutable` is schema-invalid."""
    response = api.patch(url(seeded), body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["code"] == "immutable"

    assert request_errors(body, template, "patch"), f"PATCH {template} schema accepts {body}"


EMPTY_PATCH = [
    ("/api/v1/contacts/{id}/", lambda s: f"{P}/contacts/{s['a']['id']}/"),
    ("/api/v1/tags/{id}/", lambda s: f"{P}/tags/{s['tag']['id']}/"),
    ("/api/v1/lists/{id}/", lambda s: f"{P}/lists/{s['list']['id']}/"),
    ("/api/v1/attribute-definitions/{id}/", lambda s: f"{P}/attribute-definitions/{s['definition']['id']}/"),
]


@pytest.mark.django_db
@pytest.mark.parametrize("template,url", EMPTY_PATCH, ids=[t for t, _ in EMPTY_PATCH])
def test_an_empty_patch_refused_by_the_endpoint_is_refused_by_the_schema(api, seeded, template, url):
    """PATCH with `{}` is answered 400 "Send at least one field to change." (field null), but the Patched*
    request schema has no required field and no minProperties, so `{}` is schema-valid. (PATCH
    /imports/{id}/ takes `{}` and answers 200: the endpoints disagree too.) Expected: minProperties: 1 on
    the PATCH body schemas whose endpoint refuses an empty body. Actual: none."""
    response = api.patch(url(seeded), {}, format="json")
    assert response.status_code == 400, response.content

    assert request_errors({}, template, "patch"), f"PATCH {template} schema accepts {{}}"


@pytest.mark.django_db
def test_import_upload_refuses_unknown_fields_as_every_body_does(api):
    """docs/api.md (Errors): "Unknown or read-only fields in a body are a 400 naming them (never silently
    ignored); the schema says so with additionalProperties: false." POST /imports/ (imports/api.py
    ImportJobViewSet.create reads request.FILES['file'] only; ImportUploadSerializer is a plain Serializer)
    Expected: a multipart field other than `file` (here `on_match`, an option a client may think it can
    set at upload) is a 400 naming it, and ImportUploadRequest says additionalProperties: false.
    Actual: 201, the field is silently dropped (on_match stays `update`), and the schema object is open."""
    csv = SimpleUploadedFile("a.csv", b"email\nx@a.example\n", content_type="text/csv")

    response = api.post(f"{P}/imports/", {"file": csv, "on_match": "skip"}, format="multipart")

    from tests.contract.strict import component

    assert (response.status_code, response.json().get("on_match")) != (201, "update"), (
        "on_match was silently ignored"
    )
    assert component("ImportUploadRequest").get("additionalProperties") is False


@pytest.mark.django_db
def test_import_options_are_a_json_body_only(api):
    """PATCH /imports/{id}/ documented form content types too, through which the `mapping` object cannot
    be sent: `mapping` as a JSON string was answered 200 and silently ignored. Now the options are JSON
    only, as every other JSON operation: the schema lists application/json, a form body is a 415."""
    csv = SimpleUploadedFile("a.csv", b"email,name\nx@a.example,X\n", content_type="text/csv")
    job = api.post(f"{P}/imports/", {"file": csv}, format="multipart").json()
    content = operation("/api/v1/imports/{id}/", "patch")["requestBody"]["content"]
    assert list(content) == ["application/json"]

    response = api.patch(
        f"{P}/imports/{job['id']}/",
        {"mapping": '{"email": "email", "name": "first_name"}'},
        format="multipart",
    )

    assert response.status_code == 415, response.content
    assert api.get(f"{P}/imports/{job['id']}/").json()["mapping"] == job["mapping"]

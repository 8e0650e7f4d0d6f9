"""The merge endpoints' input as docs/api.md documents it: JSON types, and the preview taking the
merge's own body without ever writing."""

import uuid

import pytest

from contacts.models import Contact, Merge
from tests.merges.conftest import create, merge_url, preview_url


@pytest.mark.django_db
def test_fields_value_sent_as_json_integer_is_refused_not_read_as_a_uuid(api):
    """docs/api.md Errors: "A JSON value of another type than the schema documents is a 400 naming the
    field too". `fields` maps a field to a contact id (a UUID string); a JSON integer equal to the
    UUID's 128-bit value is a 400 on fields (naming city), not taken as that contact's id."""
    primary = create(api, email="p@example.com")
    other = create(api, email="o@example.com", city="Lyon")
    as_int = uuid.UUID(other["id"]).int

    response = api.post(
        merge_url(primary["id"]), {"others": [other["id"]], "fields": {"city": as_int}}, format="json"
    )

    assert response.status_code == 400, (response.status_code, response.json())
    errors = [(e["field"], e["message"]) for e in response.json()["errors"]]
    assert errors == [("fields", "city: Expected str, got int.")]
    assert Merge.objects.unscoped().count() == 0
    assert Contact.objects.unscoped().get(pk=other["id"]).deleted_at is None


@pytest.mark.django_db
def test_preview_accepts_the_same_body_as_the_merge(api):
    """docs/api.md Merges: `"dry_run": true`, or POST /contacts/{id}/merge/preview/ "with the same body"
    answers the same. The documented merge body carries "dry_run"; preview answers 400 'Unknown or
    read-only field' for it."""
    primary = create(api, email="p@example.com")
    other = create(api, email="o@example.com", city="Lyon")
    body = {"others": [other["id"]], "strategy": "fill_empty", "dry_run": True}

    dry = api.post(merge_url(primary["id"]), body, format="json")
    preview = api.post(preview_url(primary["id"]), body, format="json")

    assert dry.status_code == 200, dry.json()
    assert preview.status_code == 200, preview.json()


@pytest.mark.django_db
def test_preview_never_writes_even_with_dry_run_false(api):
    primary = create(api, email="p@example.com")
    other = create(api, email="o@example.com", city="Lyon")
    preview = api.post(preview_url(primary["id"]), {"others": [other["id"]], "dry_run": False}, format="json")
    assert preview.status_code == 200, preview.json()
    assert Merge.objects.unscoped().count() == 0
    assert Contact.objects.unscoped().get(pk=other["id"]).deleted_at is None

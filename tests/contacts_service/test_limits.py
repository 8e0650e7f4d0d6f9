"""Every size limit a caller can reach answers a 4xx that names it (docs/api.md, Limits)."""

from __future__ import annotations

import uuid

import pytest
from django.test import override_settings
from django.urls import reverse

from imports.models import ExportJob
from tests.factories import ContactFactory

LIST = reverse("contact-list")
EXPORTS = reverse("export-list")


@pytest.mark.django_db
def test_a_body_over_api_max_body_bytes_is_413_naming_the_limit(api):
    with override_settings(API_MAX_BODY_BYTES=1000, DATA_UPLOAD_MAX_MEMORY_SIZE=1000):
        response = api.post(LIST, {"email": "a@example.com", "company": "x" * 2000}, format="json")
    assert response.status_code == 413
    body = response.json()
    assert body["code"] == "payload_too_large"
    assert "exceeds the limit of 1000 bytes" in body["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("page_size", ["100000", "101", "0", "-1"])
def test_a_page_size_out_of_range_is_400_not_clamped(api, page_size):
    response = api.get(LIST, {"page_size": page_size})
    assert response.status_code == 400
    assert response.json()["errors"] == [
        {"field": "page_size", "code": "invalid", "message": "Must be between 1 and 100."}
    ]
    assert api.get(LIST, {"page_size": "100"}).status_code == 200


@pytest.mark.django_db
def test_a_bulk_selection_over_10000_ids_is_400_naming_the_limit(api, tenant):
    tag = api.post(reverse("tag-list"), {"name": "VIP"}, format="json").json()
    ids = [str(uuid.uuid4()) for _ in range(10_001)]
    response = api.post(reverse("tag-apply", kwargs={"pk": tag["id"]}), {"contact_ids": ids}, format="json")
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == ("contact_ids", "max_length")
    assert "10000" in error["message"]


@pytest.mark.django_db
def test_an_export_matching_more_than_export_max_rows_is_refused_at_creation(api, tenant):
    ContactFactory.create_batch(3, tenant=tenant, country="FR")
    ContactFactory(tenant=tenant, country="DE")
    with override_settings(EXPORT_MAX_ROWS=2):
        refused = api.post(EXPORTS, {"filters": {}}, format="json")
        narrowed = api.post(EXPORTS, {"filters": {"country": "DE"}}, format="json")
    assert refused.status_code == 400
    body = refused.json()
    assert body["code"] == "too_many_rows" and body["limit"] == 2
    assert "more than 2 contacts" in body["message"] and "EXPORT_MAX_ROWS" in body["message"]
    assert body["errors"][0]["field"] == "filters"
    assert narrowed.status_code == 201
    assert ExportJob.objects.for_tenant(tenant).count() == 1
    with override_settings(EXPORT_MAX_ROWS=4):  # exactly the limit is allowed
        assert api.post(EXPORTS, {"filters": {}}, format="json").status_code == 201

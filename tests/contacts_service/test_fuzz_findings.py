"""Inputs found by fuzzing that the API answered with a 500 (or left half-written): a deeply nested or
lone-surrogate JSON body to the imports API, a gzip upload damaged past its first 64 KiB, a token
whose subject or email cannot be stored. Each test sends one concrete request and expects a 4xx."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import uuid

import jwt
import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from contacts_service.roles import Role
from tests.factories import MembershipFactory, UserFactory

IMPORTS = "/api/v1/imports/"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)  # uploads of these tests: a temporary directory
    return tmp_path


@pytest.fixture
def owner(api) -> APIClient:
    api.raise_request_exception = False  # a 500 is the assertion's failure, not a traceback in the client
    return api


def _draft_import(client: APIClient) -> str:
    csv = SimpleUploadedFile("a.csv", b"email,first_name\nann@a.example,Ann\n", content_type="text/csv")
    response = client.post(IMPORTS, {"file": csv}, format="multipart")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _big_csv_gz() -> bytes:
    """A gzip whose first 64 KiB unpacked (the detection sample) are fine: ~150 KB of CSV."""
    rows = "".join(f"user{i}@x.example,Name{i}\n" for i in range(6000))
    return gzip.compress(("email,first_name\n" + rows).encode())


def _uploads(tenant) -> list[str]:
    folder = os.path.join(settings.MEDIA_ROOT, "imports", str(tenant.pk))
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


# -- imports: the view's own parser list uses DRF's JSONParser, not contacts_service.parsers -------


@pytest.mark.django_db
def test_import_patch_with_deeply_nested_json_is_400_not_500(owner):
    job_id = _draft_import(owner)
    body = "[" * 5000 + "]" * 5000
    response = owner.patch(f"{IMPORTS}{job_id}/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "parse_error"


@pytest.mark.django_db
def test_import_create_with_deeply_nested_json_is_4xx_not_500(owner):
    response = owner.post(IMPORTS, "[" * 5000 + "]" * 5000, content_type="application/json")
    assert response.status_code in (400, 415), response.content


@pytest.mark.parametrize(
    "body",
    [
        '{"mapping": {"\\ud800": "email"}}',  # an unknown column named by a lone surrogate
        '{"dedupe_key": "\\ud800"}',  # "... is not a valid choice" echoes the value
        '{"unknown\\ud800": 1}',  # "Unknown or read-only field" names it
    ],
)
@pytest.mark.django_db
def test_import_patch_with_lone_surrogate_is_400_not_500(owner, body):
    job_id = _draft_import(owner)
    response = owner.patch(f"{IMPORTS}{job_id}/", body, content_type="application/json")
    assert response.status_code == 400, response.content


# -- imports: a gzip damaged after the detection sample ---------------------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda gz: gz[: len(gz) * 9 // 10], id="truncated"),
        pytest.param(lambda gz: gz[:-8] + b"\0\0\0\0" + gz[-4:], id="bad-crc"),
        pytest.param(lambda gz: gz + b"garbage", id="trailing-garbage"),
    ],
)
@pytest.mark.django_db
def test_damaged_gzip_upload_is_400_and_keeps_no_file(owner, tenant, damage):
    data = damage(_big_csv_gz())
    before = _uploads(tenant)
    response = owner.post(
        IMPORTS,
        {"file": SimpleUploadedFile("c.csv.gz", data, content_type="application/gzip")},
        format="multipart",
    )
    # Both at once: the 500 also leaves the upload behind (imports/<tenant>/<job id>.upload, no job).
    assert (response.status_code, _uploads(tenant)) == (400, before), response.content
    assert [e["field"] for e in response.json()["errors"]] == ["file"]


# -- authentication: a JWT whose claims hold a lone surrogate ---------------------------------------


def _bearer(claims: dict) -> APIClient:
    claims = {
        "aud": settings.JWT_AUDIENCE,
        "iss": settings.JWT_ISSUER,
        "exp": timezone.now() + dt.timedelta(minutes=5),
        **claims,
    }
    client = APIClient(raise_request_exception=False)
    token = jwt.encode(claims, settings.JWT_VERIFYING_KEY, algorithm="HS256")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.django_db
def test_jwt_subject_with_lone_surrogate_is_401_not_500():
    response = _bearer({"sub": "user-\ud800"}).get("/api/v1/me/")
    assert response.status_code == 401, response.content


@pytest.mark.django_db
def test_jwt_email_with_lone_surrogate_is_not_500(tenant):
    user = UserFactory(auth_subject=None, email="ann@a.example")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    response = _bearer({"sub": f"sub-{uuid.uuid4()}", "email": "ann\ud800@a.example"}).get("/api/v1/me/")
    assert response.status_code < 500, response.content

"""Hostile callers: credentials that stop being valid mid-session, forged tokens, and import files
built to exhaust memory (a million columns, one 50 MB line, a gzip bomb).

The uploads are streamed from temporary files through Django's request handler (the test client
would build each multipart body in memory), and the memory the request allocates is measured with
tracemalloc, so a file that gets read whole fails the bound.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import hmac
import json
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings
from django.test.client import ClientHandler, RequestFactory
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import Contact
from contacts_service import services
from contacts_service.models import ApiKey, Membership
from contacts_service.roles import Role
from imports.models import ImportJob
from tests.factories import MembershipFactory, UserFactory

LIST = reverse("contact-list")
IMPORTS = reverse("import-list")
MB = 1024 * 1024
MEMORY_BOUND = 40 * MB  # what one hostile upload may allocate in this process, at its peak


# -- credentials ----------------------------------------------------------------------------------


def api_key_client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def bearer(claims: dict, key=None, algorithm: str = "HS256") -> APIClient:
    token = jwt.encode(claims, key or settings.JWT_VERIFYING_KEY, algorithm=algorithm)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def claims_for(user, **overrides) -> dict:
    return {
        "sub": user.auth_subject,
        "aud": settings.JWT_AUDIENCE,
        "iss": settings.JWT_ISSUER,
        "exp": timezone.now() + dt.timedelta(minutes=5),
        **overrides,
    }


@pytest.mark.django_db
def test_a_key_revoked_through_the_api_mid_session_fails_on_its_very_next_request(client_for, tenant):
    # given an integration working with its key, and the owner's own client
    issued = services.apikey_create(tenant=tenant, name="integration", role=Role.CONTACTS_MANAGER)
    integration = api_key_client(issued.key)
    owner = client_for(tenant, Role.OWNER)
    assert integration.get(LIST).status_code == 200
    assert integration.post(LIST, {"email": "before@example.com"}, format="json").status_code == 201

    # when the owner revokes it
    revoked = owner.delete(reverse("api-key-detail", kwargs={"pk": issued.api_key.pk}))
    assert revoked.status_code in (200, 204)

    # then the next request (read or write) is 401 and writes nothing
    response = integration.get(LIST)
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"
    assert "revoked" in response.json()["message"]
    write = integration.post(LIST, {"email": "after@example.com"}, format="json")
    assert write.status_code == 401
    assert not Contact.objects.for_tenant(tenant).filter(email="after@example.com").exists()
    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at is not None


@pytest.mark.django_db
def test_a_key_of_a_deactivated_tenant_fails_at_once(tenant):
    issued = services.apikey_create(tenant=tenant, name="k", role=Role.OWNER)
    client = api_key_client(issued.key)
    assert client.get(LIST).status_code == 200
    tenant.is_active = False
    tenant.save(update_fields=["is_active"])
    assert client.get(LIST).status_code == 401


@pytest.mark.django_db
def test_a_user_removed_from_the_tenant_mid_session_is_refused_at_once(tenant):
    user = UserFactory(auth_subject=f"sub-{uuid.uuid4()}")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    client = bearer(claims_for(user))
    headers = {"HTTP_X_TENANT_ID": str(tenant.pk)}
    assert client.get(LIST, **headers).status_code == 200
    Membership.objects.filter(user=user, tenant=tenant).delete()
    response = client.get(LIST, **headers)
    assert response.status_code == 403 and "not a member" in response.json()["message"]


@pytest.mark.django_db
def test_a_jwt_expires_mid_session_after_the_leeway_only(tenant):
    user = UserFactory(auth_subject=f"sub-{uuid.uuid4()}")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    leeway = settings.JWT_LEEWAY_SECONDS
    now = timezone.now()
    within = bearer(claims_for(user, exp=now - dt.timedelta(seconds=leeway - 10)))
    assert within.get(LIST).status_code == 200  # clock skew tolerated
    expired = bearer(claims_for(user, exp=now - dt.timedelta(seconds=leeway + 10)))
    response = expired.get(LIST)
    assert response.status_code == 401
    assert response.json()["message"] == "Token expired."
    assert response["WWW-Authenticate"]  # a challenge, as every 401


@pytest.mark.django_db
def test_a_valid_jwt_naming_a_tenant_of_another_user_sees_nothing_of_it(tenant, other_tenant):
    user = UserFactory(auth_subject=f"sub-{uuid.uuid4()}")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    Contact.objects.for_tenant(other_tenant).create(tenant=other_tenant, email="secret@globex.test")
    client = bearer(claims_for(user))
    for method, path in (("get", LIST), ("post", LIST), ("get", reverse("me"))):
        response = getattr(client, method)(
            path,
            {"email": "x@example.com"} if method == "post" else None,
            HTTP_X_TENANT_ID=str(other_tenant.pk),
        )
        assert response.status_code == 403, (method, path)
        assert "secret@globex.test" not in response.content.decode()
    assert not Contact.objects.for_tenant(other_tenant).filter(email="x@example.com").exists()


def _rsa_pem() -> tuple[object, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return key, public.decode()


@pytest.mark.django_db
def test_rs256_tokens_signed_with_another_key_or_as_hs256_with_the_public_key_are_401(tenant):
    # given the service verifying RS256 tokens of the auth service
    auth_key, auth_public = _rsa_pem()
    other_key, _ = _rsa_pem()
    user = UserFactory(auth_subject=f"sub-{uuid.uuid4()}")
    MembershipFactory(tenant=tenant, user=user, role=Role.OWNER)
    with override_settings(JWT_VERIFYING_KEY=auth_public, JWT_ALGORITHM="RS256"):
        assert bearer(claims_for(user), auth_key, "RS256").get(LIST).status_code == 200
        # a token signed with another private key
        forged = bearer(claims_for(user), other_key, "RS256").get(LIST)
        assert forged.status_code == 401 and "Signature verification failed" in forged.json()["message"]
        # algorithm confusion: HS256 "signed" with the public key, which anyone may know
        confused = hs256_token(claims_for(user), secret=auth_public.encode())
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {confused}")
        response = client.get(LIST)
        assert response.status_code == 401
        assert "alg value is not allowed" in response.json()["message"], response.json()


def hs256_token(claims: dict, *, secret: bytes) -> str:
    """An HS256 JWT made by hand: PyJWT itself refuses to use a PEM key as an HMAC secret."""

    def b64(raw: bytes) -> bytes:
        return base64.urlsafe_b64encode(raw).rstrip(b"=")

    claims = {**claims, "exp": int(claims["exp"].timestamp())}
    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(json.dumps(claims).encode())
    )
    return (signing_input + b"." + b64(hmac.new(secret, signing_input, hashlib.sha256).digest())).decode()


# -- import files built to exhaust memory ---------------------------------------------------------


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path


def write_file(path: Path, chunks: Iterator[bytes]) -> Path:
    with path.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)
    return path


def post_streamed(api_key: str, data: Path, filename: str) -> tuple[int, dict, int]:
    """POST /imports/ with `data` as the multipart field `file`, the body streamed from a temporary
    file through Django's handler; returns (status, JSON body, peak bytes allocated meanwhile)."""
    boundary = f"abuse{uuid.uuid4().hex}"
    body = data.with_suffix(".body")
    with body.open("wb") as out, data.open("rb") as source:
        out.write(
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        while chunk := source.read(MB):
            out.write(chunk)
        out.write(f"\r\n--{boundary}--\r\n".encode())
    environ = RequestFactory()._base_environ(
        PATH_INFO=IMPORTS,
        REQUEST_METHOD="POST",
        CONTENT_TYPE=f"multipart/form-data; boundary={boundary}",
        CONTENT_LENGTH=str(body.stat().st_size),
        HTTP_AUTHORIZATION=f"Api-Key {api_key}",
    )
    with body.open("rb") as stream:
        environ["wsgi.input"] = stream
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            response = ClientHandler(enforce_csrf_checks=False)(environ)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return response.status_code, json.loads(response.content), peak


@pytest.fixture
def owner_key(tenant) -> str:
    return services.apikey_create(tenant=tenant, name="importer", role=Role.OWNER).key


def million_columns() -> Iterator[bytes]:
    for start in range(0, 1_000_000, 10_000):
        yield ",".join(f"column{i}" for i in range(start, start + 10_000)).encode()
        yield b"," if start + 10_000 < 1_000_000 else b"\n"
    yield b"a@example.com\n"


def one_50mb_line() -> Iterator[bytes]:
    yield b"email,note\nann@example.com,"
    for _ in range(50):
        yield b"x" * MB
    yield b"\n"


def gzip_bomb(unit: bytes) -> Iterator[bytes]:
    """1 GB of `unit` repeated, gzipped to about 1 MB: 64 concatenated gzip members (a valid gzip
    file, as `cat a.gz b.gz` makes) of 16 MB each, so it is built in a fraction of a second."""
    member = gzip.compress(unit * (16 * MB // len(unit)), compresslevel=9)
    yield gzip.compress(b"email\n")
    for _ in range(64):
        yield member


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "chunks", "filename", "limits", "expected"),
    [
        ("million_columns", million_columns, "wide.csv", {}, (400, "too_many_columns")),
        ("one_50mb_line", one_50mb_line, "long.csv", {}, (400, "line_too_long")),
        ("gzip_bomb_of_zeros", lambda: gzip_bomb(b"0"), "bomb.csv.gz", {}, (400, "line_too_long")),
        ("gzip_bomb_of_nul_bytes", lambda: gzip_bomb(b"\x00"), "bomb.csv.gz", {}, (400, "binary_file")),
        # 500 million rows: stopped by the row limit (lowered from 2,000,000: counting rows under
        # tracemalloc is slow, and the limit works the same at any value)
        (
            "gzip_bomb_of_short_lines",
            lambda: gzip_bomb(b"0\n"),
            "bomb.csv.gz",
            {"IMPORT_MAX_ROWS": 10_000},
            (400, "too_many_rows"),
        ),
        # 1 GB of 1 KB rows: stopped by the size limit on the unpacked bytes (lowered from 512 MB so
        # the test reads 8 MB, not 512)
        (
            "gzip_bomb_of_long_rows",
            lambda: gzip_bomb(b"a@example.com," + b"x" * 1009 + b"\n"),
            "bomb.csv.gz",
            {"IMPORT_MAX_FILE_BYTES": 8 * MB},
            (413, "too_large"),
        ),
    ],
)
def test_hostile_import_files_get_a_clear_4xx_in_bounded_memory(
    media, tenant, owner_key, name, chunks, filename, limits, expected
):
    data = write_file(media / name, chunks())
    with override_settings(**limits):
        status, body, peak = post_streamed(owner_key, data, filename)
    assert (status, body["code"]) == expected, body
    assert body["errors"][0]["field"] == "file"
    assert peak < MEMORY_BOUND, f"{name}: {peak / MB:.1f} MB allocated"
    assert not ImportJob.objects.for_tenant(tenant).exists()
    print(f"{name}: {data.stat().st_size / MB:.1f} MB upload, peak {peak / MB:.1f} MB: {body['message']}")


@pytest.mark.django_db
def test_the_separator_bound_counts_one_record_at_a_time_quoted_lines_included(media, api):
    # given rows whose quoted note spans two lines and holds 100 commas
    note = '"' + "," * 60 + "\n" + "," * 40 + '"'
    content = "email,note\n" + "".join(f"r{i}@example.com,{note}\n" for i in range(5))
    upload = {"file": SimpleUploadedFile("notes.csv", content.encode(), content_type="text/csv")}
    # then 120 separators a record pass (the count starts again at each record) ...
    with override_settings(IMPORT_MAX_SEPARATORS=120):
        response = api.post(IMPORTS, upload, format="multipart")
        assert response.status_code == 201, response.json()
        assert response.json()["total_rows"] == 5
    # ... and 80 do not, with the line of the record named
    upload["file"].seek(0)
    with override_settings(IMPORT_MAX_SEPARATORS=80):
        response = api.post(IMPORTS, upload, format="multipart")
    assert (response.status_code, response.json()["code"]) == (400, "too_many_columns")
    assert response.json()["message"].startswith("Line 3: more than 80 separators in one row")

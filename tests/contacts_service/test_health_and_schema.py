"""Health checks against the real services, and the published OpenAPI schema."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_health_reports_database_cache_and_broker_up(anon):
    response = anon.get("/api/health/")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["database"]["vendor"] == "postgresql"
    assert body["checks"]["database"]["outbox_pending"] == 0
    assert body["checks"]["cache"] == {**body["checks"]["cache"], "status": "ok", "backend": "RedisCache"}
    assert body["checks"]["broker"]["status"] == "ok"


@pytest.mark.django_db
def test_broker_down_is_degraded_not_down(anon):
    with override_settings(RABBITMQ_URL="amqp://guest:guest@127.0.0.1:1/%2F"):
        response = anon.get("/api/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["broker"]["status"] == "down"


def test_database_down_is_503():
    """A separate process whose DATABASE_URL points at a closed port: the health view says 503."""
    script = (
        "import django, json; django.setup(); "
        "from django.test import Client; r = Client().get('/api/health/'); "
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contacts_service.settings",
        "DJANGO_SECRET_KEY": "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:1/none",
        "RABBITMQ_URL": "",
        "REDIS_URL": "",
    }
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["status"] == 503
    assert outcome["body"]["status"] == "down"
    assert outcome["body"]["checks"]["database"]["status"] == "down"
    assert outcome["body"]["checks"]["broker"]["status"] == "disabled"


@pytest.mark.django_db
def test_schema_documents_every_endpoint_auth_and_errors(anon):
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = schema["paths"]
    for path in (
        "/api/v1/contacts/",
        "/api/v1/contacts/{id}/",
        "/api/v1/contacts/{id}/restore/",
        "/api/v1/contacts/{id}/history/",
        "/api/v1/contacts/{id}/timeline/",
        "/api/v1/contacts/resolve/",
        "/api/v1/contacts/{contact_pk}/identifiers/",
        "/api/v1/contacts/{contact_pk}/identifiers/{id}/",
        "/api/v1/attribute-definitions/",
        "/api/v1/api-keys/",
        "/api/v1/me/",
        "/api/health/",
    ):
        assert path in paths, path
    create = paths["/api/v1/contacts/"]["post"]
    assert {"201", "400", "401", "403"} <= set(create["responses"])
    assert create["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert {"ApiKey", "Bearer"} <= set(schema["components"]["securitySchemes"])
    params = {p["name"] for p in paths["/api/v1/contacts/"]["get"]["parameters"]}
    assert {
        "X-Tenant-ID",
        "page",
        "page_size",
        "search",
        "ordering",
        "status",
        "country",
        "created_after",
    } <= params
    assert anon.get("/api/docs/").status_code == 200


@pytest.mark.django_db
def test_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert (tmp_path / "schema.yml").stat().st_size > 10_000

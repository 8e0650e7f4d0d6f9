"""The embedded default of `./scripts/run` (README, first command): SQLite, tasks in-process, events
kept in the outbox. The rest of the suite runs on PostgreSQL; this test runs the service's own code
in a child process on a fresh SQLite file, migrates it and drives the everyday API calls, so a
change that only works on PostgreSQL (a raw statement, a view, an operator) shows here, not in the
hands of someone trying the service."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, os, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from rest_framework.test import APIClient
from contacts_service import services
from contacts_service.models import Tenant

out = {}
tenant = Tenant.objects.create(name="embedded")
client = APIClient()
key = services.apikey_create(tenant=tenant, name="k", role="owner").key
client.credentials(HTTP_AUTHORIZATION="Api-Key " + key)
ann = {"email": "Ann@Example.com", "first_name": "Ann", "company": "Acme"}
created = client.post("/api/v1/contacts/", ann, format="json")
out["create"] = created.status_code
cid = created.json()["id"]
out["patch"] = client.patch(f"/api/v1/contacts/{cid}/", {"city": "Lyon"}, format="json").json().get("city")
out["tag"] = [t["name"] for t in client.post(f"/api/v1/contacts/{cid}/tags/", {"tags": ["VIP", "Lead"]},
                                              format="json").json()["tags"]]
other = client.post("/api/v1/contacts/", {"email": "bob@example.com"}, format="json").json()["id"]
for name, params in {"all": {}, "search": {"search": "acme ann"}, "tags_all": {"tags_all": "VIP,Lead"},
                     "cursor": {"cursor": ""}, "country": {"country": "FR"}}.items():
    body = client.get("/api/v1/contacts/", params).json()
    out["list " + name] = [body["count"], sorted(r["email"] for r in body["results"])]
history = client.get(f"/api/v1/contacts/{cid}/history/").json()
out["history"] = sorted(e["field"] for e in history["results"])
out["timeline"] = client.get(f"/api/v1/contacts/{cid}/timeline/").json()["count"]
out["export"] = client.get(f"/api/v1/contacts/{cid}/export/").status_code
out["erase"] = client.post(f"/api/v1/contacts/{cid}/erase/").status_code
out["after erase"] = client.get("/api/v1/contacts/").json()["count"]
print("RESULT " + json.dumps(out))
"""


def test_the_embedded_default_serves_the_everyday_calls_on_sqlite(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "RABBITMQ_URL", "RATE_LIMIT_REDIS_URL")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'contacts.db'}",
        DJANGO_SETTINGS_MODULE="contacts_service.settings",
        DJANGO_DEBUG="1",
        LOG_LEVEL="ERROR",
        MEDIA_ROOT=str(tmp_path / "media"),
        PYTHONPATH=str(ROOT),
    )
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, run.stderr[-3000:]
    out = json.loads(lines[-1][len("RESULT ") :])
    assert out["create"] == 201 and out["patch"] == "Lyon" and out["tag"] == ["Lead", "VIP"]
    assert out["list all"] == [2, ["ann@example.com", "bob@example.com"]]
    assert out["list search"] == [1, ["ann@example.com"]]
    assert out["list tags_all"] == [1, ["ann@example.com"]]
    assert out["list cursor"][1] == ["ann@example.com", "bob@example.com"]
    assert out["list country"] == [0, []]
    assert {"email", "first_name", "city"} <= set(out["history"])
    assert out["timeline"] >= 3 and out["export"] == 200 and out["erase"] == 200
    assert out["after erase"] == 1

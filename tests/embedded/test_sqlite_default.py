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
for attribute, kind in (("score", "number"), ("vip", "boolean")):
    client.post("/api/v1/attribute-definitions/", {"key": attribute, "label": attribute, "type": kind},
                format="json")
changed = {"city": "Oslo", "company": "", "attributes": {"score": 1.5, "vip": True}}
out["patch 2"] = client.patch(f"/api/v1/contacts/{cid}/", changed, format="json").status_code
history = client.get(f"/api/v1/contacts/{cid}/history/", {"page_size": 100}).json()
entries = history["results"]
out["history count"] = history["count"]
out["history"] = [[e["field"], e["old_value"], e["new_value"], e["source"]] for e in entries]
out["history ids"] = [e["id"] for e in entries]
from contacts.models import ContactChange, history_entry_id
out["history ids expected"] = sorted(
    str(history_entry_id(row.id, n))
    for row in ContactChange.objects.for_tenant(tenant).filter(contact_id=cid)
    for n in range(1, len(row.changes) + 1)
)
page, cursor, by_cursor = 0, "", []
while cursor is not None and page < 20:
    body = client.get(f"/api/v1/contacts/{cid}/history/", {"page_size": 2, "cursor": cursor}).json()
    by_cursor += [e["id"] for e in body["results"]]
    cursor, page = body["next_cursor"], page + 1
out["history by cursor"] = by_cursor
out["history page 2"] = [e["id"] for e in client.get(f"/api/v1/contacts/{cid}/history/",
                                                    {"page_size": 2, "page": 2}).json()["results"]]
out["timeline"] = client.get(f"/api/v1/contacts/{cid}/timeline/").json()["count"]
export = client.get(f"/api/v1/contacts/{cid}/export/")
out["export"] = export.status_code
out["export history"] = [[e["id"], e["field"], e["old_value"], e["new_value"]]
                         for e in export.json()["history"]]
out["erase"] = client.post(f"/api/v1/contacts/{cid}/erase/").status_code
out["after erase"] = client.get("/api/v1/contacts/").json()["count"]
# A CSV import, run in-process: bob is updated, zed created, ann (erased) skipped, a bad email refused.
from django.core.files.uploadedfile import SimpleUploadedFile
csv_file = b"email,first_name\nbob@example.com,Bobby\nzed@example.com,Zed\nann@example.com,Ann\nnope,No\n"
csv_upload = SimpleUploadedFile("c.csv", csv_file, content_type="text/csv")
upload = client.post("/api/v1/imports/", {"file": csv_upload}, format="multipart")
job_id = upload.json()["id"]
out["import start"] = client.post(f"/api/v1/imports/{job_id}/start/").status_code
job = client.get(f"/api/v1/imports/{job_id}/").json()
counts = [job[k] for k in ("created", "updated", "skipped", "failed")]
out["import"] = [upload.status_code, job["status"], *counts]
out["after import"] = sorted(r["email"] + ":" + r["first_name"]
                             for r in client.get("/api/v1/contacts/").json()["results"])
print("RESULT " + json.dumps(out))
"""

# contacts 0012 on an existing SQLite file: per-field history rows (as 0011 had them) become one row
# per change, the API lists the same entries, and backwards gives the per-field rows back.
MIGRATION_SCRIPT = r"""
import json, uuid
import django
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from rest_framework.test import APIClient
from contacts_service import services
from contacts_service.models import Tenant

def history():
    body = client.get(f"/api/v1/contacts/{cid}/history/", {"page_size": 100}).json()
    return [[e["field"], e["old_value"], e["new_value"], e["source"]] for e in body["results"]]

def rows():
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM contacts_contactchange WHERE contact_id = %s", [uuid.UUID(cid).hex])
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

out = {}
tenant = Tenant.objects.create(name="embedded")
client = APIClient()
key = services.apikey_create(tenant=tenant, name="k", role="owner").key
client.credentials(HTTP_AUTHORIZATION="Api-Key " + key)
ann = {"email": "ann@example.com", "first_name": "Ann"}
cid = client.post("/api/v1/contacts/", ann, format="json").json()["id"]
client.patch(f"/api/v1/contacts/{cid}/", {"city": "Lyon", "company": "Acme"}, format="json")
out["before"] = history()

call_command("migrate", "contacts", "0011_search_statistics", verbosity=0)
per_field = rows()
out["back"] = sorted([r["field"], json.loads(r["old_value"] or "null"), json.loads(r["new_value"])]
                     for r in per_field)
insert = (
    "INSERT INTO contacts_contactchange (id, tenant_id, contact_id, event_id, field, old_value, new_value, "
    "actor, source, correlation_id, changed_at) VALUES (%s, %s, %s, NULL, %s, %s, %s, '{}', %s, 'r', %s)"
)
with connection.cursor() as cursor:
    for n, (field, old, new, source) in enumerate([
        ("city", '"Lyon"', '"Oslo"', "admin"), ("vip", "false", "true", "admin"),
        ("company", '"Acme"', None, "system"),
    ]):
        row_id = uuid.UUID(int=(1 << 127) + n).hex  # older ids than the others: the order they were written
        cursor.execute(insert, [row_id, tenant.pk.hex, uuid.UUID(cid).hex, field, old, new, source,
                                "2020-01-01 10:00:00"])

call_command("migrate", verbosity=0)
out["after"] = history()
out["rows"] = sorted([r["source"], [e["field"] for e in json.loads(r["changes"])]] for r in rows())
out["columns"] = sorted(rows()[0])
print("RESULT " + json.dumps(out))
"""


def run_embedded(tmp_path, script: str) -> dict:
    """Run `script` in a child process on a fresh SQLite file, as ./scripts/run serves; its last
    `RESULT {json}` line."""
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
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    lines = [line for line in run.stdout.splitlines() if line.startswith("RESULT ")]
    assert run.returncode == 0 and lines, run.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :])


def test_the_embedded_default_serves_the_everyday_calls_on_sqlite(tmp_path):
    out = run_embedded(tmp_path, SCRIPT)
    assert out["create"] == 201 and out["patch"] == "Lyon" and out["tag"] == ["Lead", "VIP"]
    assert out["patch 2"] == 200
    assert out["list all"] == [2, ["ann@example.com", "bob@example.com"]]
    assert out["list search"] == [1, ["ann@example.com"]]
    assert out["list tags_all"] == [1, ["ann@example.com"]]
    assert out["list cursor"][1] == ["ann@example.com", "bob@example.com"]
    assert out["list country"] == [0, []]
    # History: one entry per changed field, newest first (the last field of a change first), read
    # through the view contacts_contactchangeentry, which SQLite has too.
    history = out["history"]
    assert sorted(history[:3]) == [
        ["attributes", {}, {"score": 1.5, "vip": True}, "api"],
        ["city", "Lyon", "Oslo", "api"],
        ["company", "Acme", "", "api"],
    ]
    assert history[3] == ["city", "", "Lyon", "api"]
    created = {field: (old, new) for field, old, new, _ in history[4:]}
    assert created["email"] == (None, "ann@example.com") and created["first_name"] == (None, "Ann")
    assert created["company"] == (None, "Acme") and out["history count"] == len(history)
    # Entry ids: unique, and the ones history_entry_id gives (the same as on PostgreSQL).
    ids = out["history ids"]
    assert len(set(ids)) == len(ids) and sorted(ids) == out["history ids expected"]
    assert out["history by cursor"] == ids and out["history page 2"] == ids[2:4]
    assert out["timeline"] >= 3 and out["export"] == 200 and out["erase"] == 200
    # The GDPR export's history: the same entries, oldest first.
    assert [e[0] for e in out["export history"]] == ids[::-1]
    assert [e[1:] for e in out["export history"]] == [[f, old, new] for f, old, new, _ in history[::-1]]
    assert out["after erase"] == 1
    assert out["import start"] == 200
    assert out["import"] == [201, "completed_with_errors", 1, 1, 1, 1]
    assert out["after import"] == ["bob@example.com:Bobby", "zed@example.com:Zed"]


def test_an_existing_sqlite_file_keeps_its_history_through_contacts_0012(tmp_path):
    out = run_embedded(tmp_path, MIGRATION_SCRIPT)
    before = out["before"]
    assert sorted(before[:2]) == [["city", "", "Lyon", "api"], ["company", "", "Acme", "api"]]
    # Backwards (to 0011): one row per field again, with its old and new values.
    assert out["back"] == sorted([field, old, new] for field, old, new, _ in before)
    # Forwards: one row per change (the two admin rows of one request and time are one change; the
    # fields of one change may come back in another order, see the migration) ...
    assert sorted([source, sorted(fields)] for source, fields in out["rows"]) == [
        ["admin", ["city", "vip"]],
        ["api", ["city", "company"]],
        ["api", ["display_name", "email", "first_name", "source", "status"]],
        ["system", ["company"]],
    ]
    assert "field" not in out["columns"] and "changes" in out["columns"]
    # ... and the API lists the same entries as before, then the older ones written by hand (at the
    # same time: the later change first, the last field of a change first).
    assert sorted(out["after"][:2]) == sorted(before[:2])
    assert sorted(out["after"][2 : len(before)]) == sorted(before[2:])
    assert out["after"][len(before) :] == [
        ["company", "Acme", None, "system"],
        ["vip", False, True, "admin"],
        ["city", "Lyon", "Oslo", "admin"],
    ]

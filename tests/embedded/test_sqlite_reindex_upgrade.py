"""An embedded (SQLite) database written by the release before SQLite's lower() mapped each character
alone (found by a review): the upgrade's migration (contacts 0017) rebuilds the lower()/upper() indexes,
so "İstanbul" still clashes with itself and "istanbul"; names the new lower() makes equal leave their
index as it was and the upgrade goes on."""

from tests.embedded.test_sqlite_default import run_embedded

OLD = r"""
import json
import contacts.apps
contacts.apps._simple_lower = str.lower      # the lower() SQLite had before
contacts.apps._simple_upper = str.upper
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("migrate", "contacts", "0016", verbosity=0)  # the schema of the release before
from rest_framework.test import APIClient
from contacts_service import services
from contacts_service.models import Tenant
tenant = Tenant.objects.create(name="embedded")
key = services.apikey_create(tenant=tenant, name="k", role="owner").key
api = APIClient(raise_request_exception=False)
api.credentials(HTTP_AUTHORIZATION="Api-Key " + key)
out = {"key": key, "tag": api.post("/api/v1/tags/", {"name": "İstanbul"}, format="json").status_code}
print("RESULT " + json.dumps(out))
"""

NEW = r"""
import json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)   # as an upgrade does
from django.db import connection
from rest_framework.test import APIClient
api = APIClient(raise_request_exception=False)
api.credentials(HTTP_AUTHORIZATION="Api-Key " + KEY)
out = {}
out["same tag again"] = api.post("/api/v1/tags/", {"name": "İstanbul"}, format="json").status_code
out["lower-case tag"] = api.post("/api/v1/tags/", {"name": "istanbul"}, format="json").status_code
with connection.cursor() as c:
    c.execute("SELECT count(*) FROM tags_tag")
    out["tags"] = c.fetchone()[0]
    c.execute("PRAGMA integrity_check")
    out["integrity"] = [r[0] for r in c.fetchall()][:1]
print("RESULT " + json.dumps(out))
"""


def test_sqlite_db_from_before_the_lower_change_keeps_unique_tag_names(tmp_path):
    old = run_embedded(tmp_path, OLD)
    assert old["tag"] == 201
    out = run_embedded(tmp_path, f"KEY = {old['key']!r}\n" + NEW)
    assert out == {"same tag again": 400, "lower-case tag": 400, "tags": 1, "integrity": ["ok"]}


def test_names_the_new_lower_makes_equal_leave_their_index_and_the_upgrade_goes_on(tmp_path):
    """ "İstanbul" and "istanbul", two tags under the old lower(), are one name under the new: their unique
    index cannot be rebuilt; the migration logs it and the upgrade completes, the service answering."""
    both = OLD.replace(
        'print("RESULT " + json.dumps(out))',
        'out["second"] = api.post("/api/v1/tags/", {"name": "istanbul"}, format="json").status_code\n'
        'print("RESULT " + json.dumps(out))',
    )
    old = run_embedded(tmp_path, both)
    assert (old["tag"], old["second"]) == (201, 201)
    upgraded = NEW.replace("out = {}", 'out = {"tags listed": api.get("/api/v1/tags/").status_code}')
    out = run_embedded(tmp_path, f"KEY = {old['key']!r}\n" + upgraded)
    assert out["tags listed"] == 200 and out["tags"] == 2

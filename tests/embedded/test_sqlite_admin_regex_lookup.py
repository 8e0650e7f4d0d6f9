"""The admin on SQLite (embedded default) answers `?name__regex=(` with its ?e=1 redirect, as on
PostgreSQL (found by a review): SQLite's REGEXP (Python's re) raises an OperationalError, not the
DataError PostgreSQL's does."""

from tests.embedded.test_sqlite_default import run_embedded

ADMIN_REGEX = r"""
import json
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from contacts_service import services
from contacts_service.models import Tenant, User
tenant = Tenant.objects.create(name="embedded")
services.apikey_create(tenant=tenant, name="k", role="owner")
operator = User.objects.create_superuser("op", "op@example.com", "pw")
client = Client(raise_request_exception=False)
client.force_login(operator)
r = client.get("/admin/contacts_service/apikey/", {"name__regex": "("})
print("RESULT " + json.dumps({"status": r.status_code, "location": r.get("Location", "")}))
"""


def test_an_invalid_regex_lookup_in_an_admin_changelist_is_not_a_500_on_sqlite(tmp_path):
    """`?name__regex=(` on the API keys changelist is a redirect to ?e=1, not a 500."""
    out = run_embedded(tmp_path, ADMIN_REGEX)
    assert out["status"] == 302 and "e=1" in out["location"], out

"""Management commands an operator runs."""

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from contacts_service.models import ApiKey, Membership, Tenant


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_tenant_create_makes_tenant_owner_and_a_working_owner_key():
    output = run("tenant_create", "Acme", "--owner", "Owner@Acme.test")
    tenant_id = re.search(r"tenant_id: (\S+)", output).group(1)
    key = re.search(r"api_key: (\S+)", output).group(1)
    tenant = Tenant.objects.get(pk=tenant_id)
    assert tenant.name == "Acme"
    membership = Membership.objects.get(tenant=tenant)
    assert membership.role == "owner" and membership.user.email == "owner@acme.test"
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    me = client.get("/api/v1/me/").json()
    assert me["tenant_id"] == tenant_id and me["role"] == "owner"
    assert key not in str(list(ApiKey.objects.values()))


@pytest.mark.django_db
def test_apikey_create_and_revoke(tenant):
    output = run(
        "apikey_create", "--tenant", str(tenant.pk), "--role", "contacts_viewer", "--name", "reporting"
    )
    key = re.search(r"api_key: (\S+)", output).group(1)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/me/").json()["role"] == "contacts_viewer"
    assert client.post("/api/v1/contacts/", {"email": "x@example.com"}, format="json").status_code == 403

    prefix = "_".join(key.split("_")[:2])
    assert "revoked" in run("apikey_revoke", prefix)
    assert client.get("/api/v1/me/").status_code == 401


@pytest.mark.django_db
def test_commands_reject_bad_input_clearly(tenant):
    with pytest.raises(CommandError, match="No tenant"):
        run("apikey_create", "--tenant", "nope", "--role", "owner", "--name", "x")
    with pytest.raises(CommandError):
        run("apikey_create", "--tenant", str(tenant.pk), "--role", "king", "--name", "x")
    with pytest.raises(CommandError, match="not found"):
        run("apikey_revoke", "csk_doesnotexist")
    with pytest.raises(CommandError, match="name"):
        run("tenant_create", "  ", "--owner", "a@b.test")


@pytest.mark.django_db
def test_demo_setup_is_repeatable_and_prints_url_key_and_curl():
    for _ in range(2):
        output = run("demo_setup", "--url", "http://127.0.0.1:8123")
        assert Tenant.objects.filter(name="Demo").count() == 1
        assert "http://127.0.0.1:8123/api/docs/" in output
        assert "curl" in output
        key = re.search(r"API key:\s+(\S+)", output).group(1)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        assert client.get("/api/v1/contacts/").status_code == 200
        # The printed example creates a contact on every run (not a 409 for the address taken by the
        # example of the run before).
        body = json.loads(re.search(r"-d '(\{.*\})'", output).group(1))
        assert client.post("/api/v1/contacts/", body, format="json").status_code == 201

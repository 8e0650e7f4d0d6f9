"""Operator commands: input the database cannot hold is a one-line CommandError, not a traceback."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from contacts_service.models import ApiKey, Tenant


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_apikey_create_with_a_name_over_100_characters_is_a_command_error(tenant):
    """The API's serializer limits a key's name to 100 characters (the column's size); the command
    goes through services.apikey_create, which checks it too, before the INSERT."""
    with pytest.raises(CommandError):
        call_command(
            "apikey_create",
            "--tenant",
            str(tenant.pk),
            "--role",
            "owner",
            "--name",
            "x" * 101,
            stdout=StringIO(),
        )
    assert not ApiKey.objects.filter(tenant=tenant).exists()


@pytest.mark.django_db
def test_apikey_create_with_a_nul_in_the_name_is_a_command_error(tenant):
    with pytest.raises(CommandError, match="NUL"):
        run("apikey_create", "--tenant", str(tenant.pk), "--role", "owner", "--name", "a\x00b")
    assert not ApiKey.objects.filter(tenant=tenant).exists()
    run("apikey_create", "--tenant", str(tenant.pk), "--role", "owner", "--name", "x" * 100)
    assert ApiKey.objects.get(tenant=tenant).name == "x" * 100


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "owner", "match"),
    [
        ("x" * 201, "a@b.test", "name: at most 200"),
        ("a\x00b", "a@b.test", "name: no NUL"),
        ("Acme", "a" * 250 + "@b.test", "owner_email: at most 254"),
        ("Acme", "a\x00@b.test", "owner_email: no NUL"),
        ("Acme", "  ", "owner email"),
    ],
)
def test_tenant_create_refuses_what_the_columns_cannot_hold(name, owner, match):
    with pytest.raises(CommandError, match=match) as refused:
        run("tenant_create", name, "--owner", owner)
    assert "\n" not in str(refused.value)
    assert not Tenant.objects.exists()


@pytest.mark.django_db
def test_tenant_create_takes_names_up_to_the_columns_sizes():
    owner = "a" * 247 + "@b.test"  # 254 characters
    run("tenant_create", "x" * 200, "--owner", owner)
    tenant = Tenant.objects.get()
    assert tenant.name == "x" * 200
    assert tenant.memberships.get().user.email == owner

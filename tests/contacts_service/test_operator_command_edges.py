"""Operator commands (docs/operations.md, "Tenants and keys"; docs/events.md, Relay) with arguments
and settings at their edges: each ends in a result or a one-line CommandError, never a traceback."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from contacts_service import services
from contacts_service.models import Tenant, User
from events.models import OutboxEvent


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["csk_ab\x00cd", "ab\x00cd", "\x00"])
def test_apikey_revoke_refuses_a_nul_in_its_argument_in_one_line(key, tenant):
    """The commands refuse a NUL character in any argument (PostgreSQL text cannot hold one): no key
    has one, and the refusal is a CommandError, not a DataError from the lookup."""
    with pytest.raises(CommandError, match="no NUL characters"):
        run("apikey_revoke", key)


@pytest.mark.django_db
def test_tenant_create_takes_two_long_owner_emails_sharing_their_first_150_characters():
    """An owner email is accepted up to 254 characters and the owner is created or reused by email:
    two different emails with the same first 150 characters (the length of a username) are two users,
    each with a unique username."""
    first = "a" * 150 + "first@b.test"
    second = "a" * 150 + "second@b.test"
    run("tenant_create", "First", "--owner", first)
    run("tenant_create", "Second", "--owner", second)
    owners = [Tenant.objects.get(name=name).memberships.get().user for name in ("First", "Second")]
    assert [owner.email for owner in owners] == [first, second]
    assert owners[0].username != owners[1].username
    assert all(len(owner.username) <= 150 for owner in owners)
    run("tenant_create", "Third", "--owner", second.upper())  # reused by email, any case
    assert Tenant.objects.get(name="Third").memberships.get().user == owners[1]


@pytest.mark.django_db
def test_a_new_user_is_named_by_their_email_unless_another_user_has_that_username():
    """A short email is the username, as always; one another user already has as username (an
    operator named by an email they no longer have) gets a unique derived one."""
    assert services.user_get_or_create(email="Ada@Example.com").username == "ada@example.com"
    User.objects.create(username="grace@example.com", email="other@example.com")
    grace = services.user_get_or_create(email="grace@example.com")
    assert grace.email == "grace@example.com"
    assert grace.username.startswith("grace@example.com-") and len(grace.username) <= 150


@pytest.mark.django_db(transaction=True)
def test_relay_events_once_never_claims_an_empty_batch(api, broker, settings):
    """Start-up refuses EVENTS_RELAY_BATCH_SIZE below 1; a value set later (override_settings) is not
    taken as `LIMIT 0` either: `relay_events --once` drains the outbox."""
    api.post(reverse("contact-list"), {"email": "ada@example.com"}, format="json")
    assert OutboxEvent.objects.unscoped().filter(sent_at__isnull=True).exists()
    settings.EVENTS_RELAY_BATCH_SIZE = 0
    output = run("relay_events", "--once")
    assert not OutboxEvent.objects.unscoped().filter(sent_at__isnull=True).exists(), output

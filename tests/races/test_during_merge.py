"""Requests naming a contact while it is merged into another, or while that merge is undone: they look
the contact up again once it is locked (contacts.services.merges.lock_surviving_contact, the activities'
lookup rounds), so they act on the contact the id stands for when they commit."""

import threading

import pytest

from consent.models import ConsentState
from consent.services import consent_record
from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from events.models import Activity
from tests.races.helpers import merge_holding_locks, run_together, two_contacts, undo_holding_locks


def _signed_up(tenant, contact) -> str:
    """The token of the double opt-in link a pending email marketing sign-up of `contact` mails."""
    with tenant_context(tenant):
        result = consent_record(
            tenant=tenant, actor=SYSTEM_ACTOR, contact_id=contact.pk, channel="email", purpose="marketing",
            status="pending", confirm_url="{token}",
        )  # fmt: skip
    return result.confirmation.token


def _click(anon, token, locked):
    def click():
        assert locked.wait(10)
        response = anon.get(f"/api/v1/consent/confirm/{token}/")
        return response.status_code, response.json()

    return click


@pytest.mark.django_db(transaction=True)
def test_an_activity_reported_while_its_contact_is_merged_lands_on_the_primary(client_for, tenant):
    """An activity reported for a contact being merged: 201, recorded on the primary, as before or
    after the merge."""
    primary, other = two_contacts(tenant)
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def report():
        assert locked.wait(10)
        response = client.post(
            f"/api/v1/contacts/{other.pk}/activities/", {"type": "email_opened"}, format="json"
        )
        return response.status_code, response.json()

    results, errors = run_together(merge_holding_locks(tenant, primary, other, locked), report)
    assert errors == [], errors
    assert results[1][0] == 201, results
    assert (
        Activity.objects.unscoped().filter(contact_id=primary.pk, activity_type="email_opened").count() == 1
    )


@pytest.mark.django_db(transaction=True)
def test_a_double_opt_in_link_clicked_while_its_contact_is_merged_grants_the_consent(tenant, anon):
    """A double opt-in link clicked while its contact is merged: 200, and the primary's consent is
    granted, as after the merge."""
    primary, other = two_contacts(tenant)
    token = _signed_up(tenant, other)
    locked = threading.Event()

    results, errors = run_together(
        merge_holding_locks(tenant, primary, other, locked), _click(anon, token, locked)
    )
    assert errors == [], errors
    assert results[1][0] == 200, results
    state = ConsentState.objects.unscoped().get(contact_id=primary.pk, channel="email", purpose="marketing")
    assert state.status == "granted"


@pytest.mark.django_db(transaction=True)
def test_a_double_opt_in_link_clicked_while_the_merge_is_undone_grants_the_contact_that_signed_up(
    tenant, anon
):
    """B signed up (pending) and was merged into A; B's link clicked while the merge is undone grants
    B's consent and leaves A's untouched (what the click gets before or after the undo)."""
    primary, other = two_contacts(tenant)
    token = _signed_up(tenant, other)
    with tenant_context(tenant):
        merge = services.contact_merge(
            tenant=tenant, actor=SYSTEM_ACTOR, primary_id=primary.pk, other_ids=[other.pk]
        ).merge
    locked = threading.Event()

    results, errors = run_together(undo_holding_locks(tenant, merge, locked), _click(anon, token, locked))
    assert errors == [], errors
    states = dict(
        ConsentState.objects.unscoped()
        .filter(channel="email", purpose="marketing", contact_id__in=[primary.pk, other.pk])
        .values_list("contact_id", "status")
    )
    assert states.get(primary.pk) != "granted", (results, states)
    assert states.get(other.pk) == "granted", (results, states)


@pytest.mark.django_db(transaction=True)
def test_an_activity_reported_while_the_merge_is_undone_lands_on_its_own_contact(client_for, tenant):
    """B was merged into A; an activity reported for B while the merge is undone lands on B."""
    primary, other = two_contacts(tenant)
    with tenant_context(tenant):
        merge = services.contact_merge(
            tenant=tenant, actor=SYSTEM_ACTOR, primary_id=primary.pk, other_ids=[other.pk]
        ).merge
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def report():
        assert locked.wait(10)
        response = client.post(
            f"/api/v1/contacts/{other.pk}/activities/", {"type": "email_opened"}, format="json"
        )
        return response.status_code, response.json()

    results, errors = run_together(undo_holding_locks(tenant, merge, locked), report)
    assert errors == [], errors
    recorded = dict(
        Activity.objects.unscoped().filter(activity_type="email_opened").values_list("id", "contact_id")
    )
    assert list(recorded.values()) == [other.pk], (results, recorded, primary.pk)

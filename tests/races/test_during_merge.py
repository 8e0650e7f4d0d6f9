"""Requests naming a contact while it is merged into another, or while that merge is undone: they look
the contact up again once it is locked (contacts.services.merges.lock_surviving_contact, the activities'
lookup rounds), so they act on the contact the id stands for when they commit."""

import threading
import time

import pytest
from django.db import transaction

from consent.models import ConsentState
from consent.services import consent_record
from contacts import services
from contacts.models import Contact
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from events.models import Activity
from tests.races.helpers import run_together


def _two(tenant):
    with tenant_context(tenant):
        primary = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "p@example.com"})
        other = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "o@example.com"})
    return primary, other


def _merge_holding_locks(tenant, primary, other, locked):
    def merge():
        with tenant_context(tenant), transaction.atomic():
            ids = sorted([primary.pk, other.pk])  # contact_merge's first step: both locked in id order
            list(Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=ids).order_by("pk"))
            locked.set()
            time.sleep(1)  # the other request starts meanwhile and waits on the merged contact's lock
            services.contact_merge(
                tenant=tenant, actor=SYSTEM_ACTOR, primary_id=primary.pk, other_ids=[other.pk]
            )

    return merge


@pytest.mark.django_db(transaction=True)
def test_an_activity_reported_while_its_contact_is_merged_lands_on_the_primary(client_for, tenant):
    """An activity reported for a contact being merged: 201, recorded on the primary, as before or
    after the merge."""
    primary, other = _two(tenant)
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def report():
        assert locked.wait(10)
        response = client.post(
            f"/api/v1/contacts/{other.pk}/activities/", {"type": "email_opened"}, format="json"
        )
        return response.status_code, response.json()

    results, errors = run_together(_merge_holding_locks(tenant, primary, other, locked), report)
    assert errors == [], errors
    assert results[1][0] == 201, results
    assert (
        Activity.objects.unscoped().filter(contact_id=primary.pk, activity_type="email_opened").count() == 1
    )


@pytest.mark.django_db(transaction=True)
def test_a_double_opt_in_link_clicked_while_its_contact_is_merged_grants_the_consent(tenant, anon):
    """A double opt-in link clicked while its contact is merged: 200, and the primary's consent is
    granted, as after the merge."""
    primary, other = _two(tenant)
    with tenant_context(tenant):
        result = consent_record(
            tenant=tenant,
            actor=SYSTEM_ACTOR,
            contact_id=other.pk,
            channel="email",
            purpose="marketing",
            status="pending",
            confirm_url="{token}",
        )
    token = result.confirmation.token
    locked = threading.Event()

    def click():
        assert locked.wait(10)
        response = anon.get(f"/api/v1/consent/confirm/{token}/")
        return response.status_code, response.json()

    results, errors = run_together(_merge_holding_locks(tenant, primary, other, locked), click)
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
    primary, other = _two(tenant)
    with tenant_context(tenant):
        result = consent_record(
            tenant=tenant,
            actor=SYSTEM_ACTOR,
            contact_id=other.pk,
            channel="email",
            purpose="marketing",
            status="pending",
            confirm_url="{token}",
        )
        merge = services.contact_merge(
            tenant=tenant, actor=SYSTEM_ACTOR, primary_id=primary.pk, other_ids=[other.pk]
        ).merge
    token = result.confirmation.token
    locked = threading.Event()

    def undo():
        from contacts.models import Merge
        from contacts.services.merge_undo import merge_undo

        with tenant_context(tenant), transaction.atomic():
            list(Merge.objects.for_tenant(tenant).select_for_update().filter(pk=merge.pk))
            ids = sorted([primary.pk, other.pk])  # merge_undo's first steps
            list(Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=ids).order_by("pk"))
            locked.set()
            time.sleep(1)
            merge_undo(tenant=tenant, actor=SYSTEM_ACTOR, merge_id=merge.pk)

    def click():
        assert locked.wait(10)
        response = anon.get(f"/api/v1/consent/confirm/{token}/")
        return response.status_code, response.json()

    results, errors = run_together(undo, click)
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
    primary, other = _two(tenant)
    with tenant_context(tenant):
        merge = services.contact_merge(
            tenant=tenant, actor=SYSTEM_ACTOR, primary_id=primary.pk, other_ids=[other.pk]
        ).merge
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def undo():
        from contacts.models import Merge
        from contacts.services.merge_undo import merge_undo

        with tenant_context(tenant), transaction.atomic():
            list(Merge.objects.for_tenant(tenant).select_for_update().filter(pk=merge.pk))
            ids = sorted([primary.pk, other.pk])  # merge_undo's first steps
            list(Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=ids).order_by("pk"))
            locked.set()
            time.sleep(1)
            merge_undo(tenant=tenant, actor=SYSTEM_ACTOR, merge_id=merge.pk)

    def report():
        assert locked.wait(10)
        response = client.post(
            f"/api/v1/contacts/{other.pk}/activities/", {"type": "email_opened"}, format="json"
        )
        return response.status_code, response.json()

    results, errors = run_together(undo, report)
    assert errors == [], errors
    recorded = dict(
        Activity.objects.unscoped().filter(activity_type="email_opened").values_list("id", "contact_id")
    )
    assert list(recorded.values()) == [other.pk], (results, recorded, primary.pk)

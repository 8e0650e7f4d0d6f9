"""A merge racing a set-based change (bulk tag by filter) of its contacts."""

import threading
import time

import pytest
from django.db import transaction

from contacts import services
from contacts.models import Contact
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from events.models import OutboxEvent
from tags.models import Tag, TagAssignment

from .helpers import assert_sequences_gap_free, run_together


@pytest.mark.django_db(transaction=True)
def test_a_bulk_tag_racing_a_merge_does_not_tag_the_contact_merged_away(client_for, tenant):
    """The bulk statement read both contacts live, inserted their links, and waits for the merge's row
    locks to bump their sequences; once the merge commits, the bump (WHERE id = ANY(...), no deleted_at
    condition) goes on for the merged-away contact: it keeps a tag and publishes contact.tagged after its
    contact.deleted."""
    with tenant_context(tenant):
        primary = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "p@example.com", "country": "FR"}
        )
        other = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "o@example.com", "country": "FR"}
        )
    tag = Tag.objects.unscoped().create(tenant=tenant, name="VIP")
    client = client_for(tenant, Role.OWNER)
    locked = threading.Event()

    def merge():
        with tenant_context(tenant), transaction.atomic():
            ids = sorted([primary.pk, other.pk])  # contact_merge's first step: both locked in id order
            list(Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=ids).order_by("pk"))
            locked.set()
            time.sleep(1)
            services.contact_merge(
                tenant=tenant, actor=SYSTEM_ACTOR, primary_id=primary.pk, other_ids=[other.pk]
            )

    def bulk():
        assert locked.wait(10)
        response = client.post(f"/api/v1/tags/{tag.pk}/apply/", {"filter": {"country": "FR"}}, format="json")
        return response.status_code

    results, errors = run_together(merge, bulk)
    assert errors == [], errors
    assert results[1] == 200
    assert TagAssignment.objects.unscoped().filter(tag=tag, contact=primary).exists()
    assert_sequences_gap_free([primary.pk, other.pk])
    other_events = list(
        OutboxEvent.objects.unscoped()
        .filter(aggregate_id=other.pk)
        .order_by("sequence")
        .values_list("event_type", flat=True)
    )
    # nothing happens to a contact after it was merged away
    assert other_events[-1] == "contact.deleted", other_events
    assert not TagAssignment.objects.unscoped().filter(contact=other).exists()

"""A merge moving a link (tag assignment, list membership) to its primary while the tag or list is
being deleted."""

import threading

import pytest

from contacts.models import Contact
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from events.models import OutboxEvent
from lists.services import list_create, list_delete, list_members_change
from tags.models import Tag
from tags.services import contact_tag, tag_delete
from tests.races.helpers import assert_sequences_gap_free, merge_holding_locks, run_together, two_contacts


def _events(contact_id, *types):
    return list(
        OutboxEvent.objects.unscoped()
        .filter(aggregate_id=contact_id, event_type__in=types)
        .order_by("sequence")
        .values_list("event_type", flat=True)
    )


@pytest.mark.django_db(transaction=True)
def test_deleting_a_tag_while_a_merge_moves_it_to_the_primary_emits_its_untagged(tenant):
    """The merged contact holds tag VIP, the primary does not; the tag is deleted while the merge
    moves the assignment to the primary: the primary gets contact.untagged (every holder gets one, the
    deletion unlinks again the holders of the moment before the tag goes)."""
    primary, other = two_contacts(tenant)
    with tenant_context(tenant):
        contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=other.pk, names=["VIP"])
    tag = Tag.objects.unscoped().get(tenant=tenant, name="VIP")
    locked = threading.Event()

    def delete():
        assert locked.wait(10)
        with tenant_context(tenant):
            return tag_delete(tenant=tenant, actor=SYSTEM_ACTOR, tag_id=tag.pk)

    results, errors = run_together(merge_holding_locks(tenant, primary, other, locked), delete)
    assert errors == [], errors
    assert not Tag.objects.unscoped().filter(pk=tag.pk).exists()
    assert_sequences_gap_free([primary.pk, other.pk])
    # the primary was told it got the tag: it must be told it lost it
    assert _events(primary.pk, "contact.tagged", "contact.untagged") == ["contact.tagged", "contact.untagged"]
    assert results[1] == 1, results


@pytest.mark.django_db(transaction=True)
def test_deleting_a_list_while_a_merge_moves_its_membership_to_the_primary_emits_removed_from_list(tenant):
    """The same with a static list: the primary gets contact.removed_from_list."""
    primary, other = two_contacts(tenant)
    with tenant_context(tenant):
        target = list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Newsletter")
        list_members_change(
            tenant=tenant,
            actor=SYSTEM_ACTOR,
            list_id=target.pk,
            selection=Contact.objects.for_tenant(tenant).filter(pk=other.pk),
        )
    locked = threading.Event()

    def delete():
        assert locked.wait(10)
        with tenant_context(tenant):
            return list_delete(tenant=tenant, actor=SYSTEM_ACTOR, list_id=target.pk)

    results, errors = run_together(merge_holding_locks(tenant, primary, other, locked), delete)
    assert errors == [], errors
    assert_sequences_gap_free([primary.pk, other.pk])
    assert _events(primary.pk, "contact.added_to_list", "contact.removed_from_list") == [
        "contact.added_to_list",
        "contact.removed_from_list",
    ]
    assert results[1] == 1, results

"""Bulk linking (contacts/services/links.py): one event per changed contact, sequences in order."""

import pytest
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from contacts.services.links import contacts_link, contacts_unlink
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from events.models import OutboxEvent, TimelineEntry
from events.services import event_record
from tags.models import Tag, TagAssignment
from tags.services import _target
from tests.factories import ContactFactory


def _tag(tenant, name):
    tag = Tag(tenant=tenant, name=name)
    tag.save(force_insert=True)
    return tag


@pytest.mark.django_db
def test_a_selection_naming_a_contact_twice_links_it_once_and_skips_dead_and_foreign_contacts(
    tenant, other_tenant
):
    """Given a selection that yields one contact twice (a join), a deleted contact and another
    tenant's contact, when it is linked, then each live contact of the tenant gets one link and one
    event, and the others nothing."""
    alive = [ContactFactory(tenant=tenant) for _ in range(3)]
    gone = ContactFactory(tenant=tenant, deleted_at=timezone.now())
    foreign = ContactFactory(tenant=other_tenant)
    first, second = _tag(tenant, "First"), _tag(tenant, "Second")
    for tag in (first, second):
        TagAssignment.objects.for_tenant(tenant).create(
            tenant=tenant, tag=tag, contact=alive[0], added_at=timezone.now(), added_by={}
        )
    target = _tag(tenant, "Target")
    selection = Contact.objects.unscoped().filter(
        Q(tag_assignments__tag__in=[first, second]) | Q(pk__in=[c.pk for c in [*alive[1:], gone, foreign]])
    )
    assert selection.filter(pk=alive[0].pk).count() == 2  # the join yields it twice
    with tenant_context(tenant):
        changed = contacts_link(
            tenant=tenant, target=_target(target), selection=selection, actor=SYSTEM_ACTOR, source="api"
        )
    assert changed == 3
    linked = TagAssignment.objects.unscoped().filter(tag=target)
    assert sorted(linked.values_list("contact_id", flat=True)) == sorted(c.pk for c in alive)
    events = OutboxEvent.objects.unscoped().filter(event_type="contact.tagged")
    assert sorted(events.values_list("aggregate_id", flat=True)) == sorted(c.pk for c in alive)
    assert not OutboxEvent.objects.unscoped().filter(aggregate_id__in=[gone.pk, foreign.pk]).exists()
    assert Contact.objects.unscoped().get(pk=foreign.pk).event_sequence == 0


@pytest.mark.django_db
def test_each_contact_gets_consecutive_sequences_over_bulk_and_single_changes(api, tenant):
    """Given contacts changed by a PATCH, two bulk tags, a bulk list add and a bulk untag, then each
    contact's events have sequences 1..n in the order they happened (outbox order too), each with its
    timeline entry of the same event_id, and the contact row's counter is n."""
    contacts = [
        api.post(reverse("contact-list"), {"email": f"s{n}@x.com"}, format="json").json() for n in range(4)
    ]
    ids = [c["id"] for c in contacts]
    vip = api.post(reverse("tag-list"), {"name": "VIP"}, format="json").json()
    lead = api.post(reverse("tag-list"), {"name": "Lead"}, format="json").json()
    lst = api.post(reverse("list-list"), {"name": "Newsletter"}, format="json").json()
    apply = lambda tag, who: api.post(  # noqa: E731
        reverse("tag-apply", kwargs={"pk": tag["id"]}), {"contact_ids": who}, format="json"
    )
    assert apply(vip, ids[:3]).json() == {"changed": 3}
    patched = api.patch(reverse("contact-detail", kwargs={"pk": ids[0]}), {"city": "Oslo"}, format="json")
    assert patched.status_code == 200
    assert apply(lead, ids).json() == {"changed": 4}
    members = reverse("list-contacts", kwargs={"pk": lst["id"]})
    assert api.post(members, {"contact_ids": ids[1:]}, format="json").status_code == 200
    remove = reverse("tag-remove", kwargs={"pk": vip["id"]})
    assert api.post(remove, {"contact_ids": ids}, format="json").json() == {"changed": 3}

    expected = {
        ids[0]: ["contact.created", "contact.tagged", "contact.updated", "contact.tagged",
                 "contact.untagged"],
        ids[1]: ["contact.created", "contact.tagged", "contact.tagged", "contact.added_to_list",
                 "contact.untagged"],
        ids[3]: ["contact.created", "contact.tagged", "contact.added_to_list"],
    }  # fmt: skip
    for contact_id, types in expected.items():
        events = list(OutboxEvent.objects.unscoped().filter(aggregate_id=contact_id).order_by("id"))
        assert [e.event_type for e in events] == types
        assert [e.sequence for e in events] == list(range(1, len(types) + 1))
        assert [e.payload["sequence"] for e in events] == list(range(1, len(types) + 1))
        timeline = TimelineEntry.objects.unscoped().filter(contact_id=contact_id)
        assert sorted(timeline.values_list("event_id", flat=True)) == sorted(e.event_id for e in events)
        assert Contact.objects.unscoped().get(pk=contact_id).event_sequence == len(types)


@pytest.mark.django_db
def test_bulk_rows_get_time_ordered_ids(tenant):
    """The link rows and timeline entries a bulk statement writes have UUIDv7 ids (as new_id makes),
    so they land at the right edge of their primary key index; an unlink writes v7 entries too. So do
    the events' event_ids (the outbox's unique (tenant_id, event_id) index), there and in event_record."""
    contacts = [ContactFactory(tenant=tenant) for _ in range(5)]
    tag = _tag(tenant, "Ordered")
    selection = Contact.objects.for_tenant(tenant).filter(pk__in=[c.pk for c in contacts])
    before = timezone.now()
    with tenant_context(tenant):
        contacts_link(
            tenant=tenant, target=_target(tag), selection=selection, actor=SYSTEM_ACTOR, source="api"
        )
        contacts_unlink(
            tenant=tenant, target=_target(tag), selection=selection, actor=SYSTEM_ACTOR, source="api"
        )
    entries = TimelineEntry.objects.unscoped().filter(contact_id__in=[c.pk for c in contacts])
    assert entries.count() == 10
    for entry in entries:
        for uuid_ in (entry.id, entry.event_id):
            assert uuid_.version == 7
            millis = uuid_.int >> 80  # the first 48 bits
            assert abs(millis / 1000 - before.timestamp()) < 60
    outbox = OutboxEvent.objects.unscoped().filter(aggregate_id__in=[c.pk for c in contacts])
    assert {e.event_id for e in outbox} == {e.event_id for e in entries}
    # the one-event path (a PATCH, an activity, ...) too
    with tenant_context(tenant):
        single = event_record(tenant=tenant, event_type="contact.updated", aggregate_type="contact",
                              aggregate_id=contacts[0].pk, sequence=99, data={}, actor=SYSTEM_ACTOR,
                              source="api")  # fmt: skip
    assert single.event_id.version == 7
    # the links are gone; make them again to look at their ids
    with tenant_context(tenant):
        contacts_link(
            tenant=tenant, target=_target(tag), selection=selection, actor=SYSTEM_ACTOR, source="api"
        )
    assert {a.id.version for a in TagAssignment.objects.unscoped().filter(tag=tag)} == {7}


@pytest.mark.django_db
def test_deleting_a_tenant_still_deletes_its_timeline_outbox_and_history(api, tenant, other_tenant):
    """The log and link tables keep tenant_id without a database constraint (events.models.log_tenant):
    given a tenant with history, timeline, outbox, tag and list rows, when it is deleted, then they go
    with it (Django cascades) and another tenant's rows stay."""
    from contacts.models import ContactChange
    from lists.models import ListMembership

    contact = api.post(reverse("contact-list"), {"email": "gone@x.com"}, format="json").json()
    assert api.post(reverse("contact-add-tags", kwargs={"pk": contact["id"]}), {"tags": ["VIP"]},
                    format="json").status_code == 200  # fmt: skip
    newsletter = api.post(reverse("list-list"), {"name": "Gone"}, format="json").json()
    members = reverse("list-contacts", kwargs={"pk": newsletter["id"]})
    added = api.post(members, {"contact_ids": [contact["id"]]}, format="json")
    assert added.status_code == 200, added.json()
    kept = ContactFactory(tenant=other_tenant)
    ContactChange.objects.for_tenant(other_tenant).create(
        tenant=other_tenant,
        contact=kept,
        changes=[{"field": "city", "old": None, "new": "Oslo"}],
        source="api",
    )
    logs_and_links = (ContactChange, TimelineEntry, OutboxEvent, TagAssignment, ListMembership)
    for model in logs_and_links:
        assert model.objects.unscoped().filter(tenant=tenant).exists(), model
    assert TimelineEntry.objects.unscoped().filter(contact_id=contact["id"]).exists()
    tenant.delete()
    for model in logs_and_links:
        assert not model.objects.unscoped().filter(tenant_id=tenant.pk).exists(), model
    assert ContactChange.objects.unscoped().filter(tenant=other_tenant).count() == 1

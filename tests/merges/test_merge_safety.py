"""Merges are safe: bad input is a 400 naming the field, another tenant's contacts are 404, roles are
enforced, concurrent updates are not lost, and the work does not grow with the rows moved."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts import services
from contacts.models import Contact, ContactChange, Merge
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from events.models import OutboxEvent, TimelineEntry
from tests.factories import TenantFactory
from tests.merges.conftest import contact_url, create, last_outbox_id, merge_url, preview_url, undo_url


@pytest.fixture
def two(api):
    return create(api, email="p@example.com", first_name="Pat"), create(
        api, email="o@example.com", city="Lyon"
    )


def state() -> tuple:
    contacts = list(Contact.objects.unscoped().order_by("pk").values())
    return contacts, last_outbox_id(), Merge.objects.unscoped().count()


@pytest.mark.django_db
def test_every_bad_input_is_a_400_naming_the_field_and_changes_nothing(api, client_for, other_tenant, two):
    primary, other = two
    stranger = create(client_for(other_tenant), email="s@example.com")
    cases = [
        ({}, "others"),
        ({"others": []}, "others"),
        ({"others": "abc"}, "others"),
        ({"others": ["not-a-uuid"]}, "others.0"),
        ({"others": [primary["id"]]}, "others.0"),
        ({"others": [other["id"], other["id"]]}, "others.1"),
        ({"others": [other["id"]] * 21}, "others"),
        ({"others": [other["id"]], "fields": {"shoe_size": other["id"]}}, "fields.shoe_size"),
        ({"others": [other["id"]], "fields": {"city": "nope"}}, "fields.city"),
        ({"others": [other["id"]], "fields": {"city": stranger["id"]}}, "fields.city"),
        ({"others": [other["id"]], "fields": {"attributes.plan": other["id"]}}, "fields.attributes.plan"),
        ({"others": [other["id"]], "fields": ["city"]}, "fields"),
        ({"others": [other["id"]], "strategy": "coin_flip"}, "strategy"),
        ({"others": [other["id"]], "dry_run": "maybe"}, "dry_run"),
        ({"others": [other["id"]], "colour": "red"}, "colour"),
        # keep_primary with the email taken from a contact without one: nothing left to identify it
        ({"others": [create(api, phone="+33612345678")["id"]], "strategy": "keep_primary",
          "fields": {"email": None}}, "fields.email"),
    ]  # fmt: skip
    phone_only = create(api, phone="+447911123456")
    cases.append(
        (
            {"others": [phone_only["id"]], "strategy": "keep_primary", "fields": {"email": phone_only["id"]}},
            "fields",
        )
    )
    before = state()
    for body, field in cases:
        for url in (merge_url(primary["id"]), preview_url(primary["id"])):
            response = api.post(url, body, format="json")
            assert response.status_code == 400, (body, response.json())
            assert response.json()["code"] == "validation_error"
            assert field in [e["field"] for e in response.json()["errors"]], (body, response.json())
    assert state() == before


@pytest.mark.django_db
def test_another_tenants_contacts_are_404_and_nothing_changes(api, client_for, other_tenant, two):
    primary, other = two
    foreign = client_for(other_tenant)
    theirs = create(foreign, email="t@example.com")
    before = state()

    as_other = api.post(merge_url(primary["id"]), {"others": [other["id"], theirs["id"]]}, format="json")
    assert as_other.status_code == 404
    assert as_other.json()["errors"] == [
        {"field": "others.1", "code": "not_found", "message": as_other.json()["message"]}
    ]
    assert api.post(merge_url(theirs["id"]), {"others": [other["id"]]}, format="json").status_code == 404
    assert (
        foreign.post(merge_url(primary["id"]), {"others": [theirs["id"]]}, format="json").status_code == 404
    )
    assert api.post(preview_url(theirs["id"]), {"others": [other["id"]]}, format="json").status_code == 404
    assert api.post(merge_url("not-a-uuid"), {"others": [other["id"]]}, format="json").status_code == 404
    assert state() == before
    for response in (
        api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json"),
        api.delete(contact_url(primary["id"])),
    ):
        assert response.status_code in (201, 204)
    assert (
        api.post(
            merge_url(primary["id"]), {"others": [create(api, email="n@example.com")["id"]]}, format="json"
        ).status_code
        == 404
    )


@pytest.mark.django_db
def test_roles(client_for, tenant, api, two):
    primary, other = two
    body = {"others": [other["id"]]}
    before = state()
    for role in (Role.CONTACTS_VIEWER, Role.MARKETING_MANAGER):
        client = client_for(tenant, role)
        assert client.post(merge_url(primary["id"]), body, format="json").status_code == 403
        assert (
            client.post(merge_url(primary["id"]), {**body, "dry_run": True}, format="json").status_code == 403
        )
        assert client.post(preview_url(primary["id"]), body, format="json").status_code == 200
        assert client.get(reverse("merge-list")).status_code == 200
    assert state() == before
    manager = client_for(tenant, Role.CONTACTS_MANAGER)
    done = manager.post(merge_url(primary["id"]), body, format="json")
    assert done.status_code == 201
    assert client_for(tenant, Role.CONTACTS_VIEWER).post(undo_url(done.json()["merge_id"])).status_code == 403
    assert manager.post(undo_url(done.json()["merge_id"])).status_code == 200
    assert "contacts.merge" in manager.get(reverse("me")).json()["permissions"]


def _rows(tenant, contact, tags: int, timeline: int) -> None:
    """Tags and timeline/history rows on a contact, written directly (only their number matters)."""
    from tags.models import Tag, TagAssignment

    made = Tag.objects.for_tenant(tenant).bulk_create(
        [Tag(tenant=tenant, name=f"t{contact.pk}-{n}") for n in range(tags)]
    )
    TagAssignment.objects.for_tenant(tenant).bulk_create(
        [TagAssignment(tenant=tenant, tag=t, contact=contact) for t in made]
    )
    TimelineEntry.objects.for_tenant(tenant).bulk_create(
        [
            TimelineEntry(tenant=tenant, contact_id=contact.pk, event_type="x.happened")
            for _ in range(timeline)
        ]
    )
    ContactChange.objects.for_tenant(tenant).bulk_create(
        [
            ContactChange(
                tenant=tenant,
                contact=contact,
                changes=[{"field": "city", "old": None, "new": "X"}],
                source="api",
            )
            for _ in range(timeline)
        ]
    )


@pytest.mark.django_db
def test_queries_of_a_merge_and_its_undo_do_not_grow_with_tags_and_timeline_rows(api, tenant):
    def measure(tags: int, timeline: int) -> tuple[int, int]:
        primary = create(api, email=f"p{tags}@example.com")
        other = create(api, email=f"o{tags}@example.com", city="Lyon")
        _rows(tenant, Contact.objects.unscoped().get(pk=other["id"]), tags, timeline)
        _rows(tenant, Contact.objects.unscoped().get(pk=primary["id"]), tags, timeline)
        with CaptureQueriesContext(connection) as merging:
            response = api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json")
        assert response.status_code == 201
        assert len(response.json()["contact"]["tags"]) == 2 * tags
        with CaptureQueriesContext(connection) as undoing:
            assert api.post(undo_url(response.json()["merge_id"])).status_code == 200
        return len(merging), len(undoing)

    assert measure(2, 3) == measure(40, 120)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("first", ["merge", "update"])
def test_an_update_during_a_merge_is_not_lost(first):
    """Whichever takes the primary's row lock first, the other waits for it and works on its result:
    the update's company and the merge's city both end on the primary, events in sequence order."""
    tenant = TenantFactory()
    with tenant_context(tenant):
        primary = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "p@example.com"})
        other = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "o@example.com", "city": "Lyon"}
        )
    holding, release, errors = threading.Event(), threading.Event(), []

    def merge() -> None:
        with tenant_context(tenant), transaction.atomic():
            services.contact_merge(
                tenant=tenant, actor=SYSTEM_ACTOR, primary_id=primary.pk, other_ids=[other.pk]
            )
            if first == "merge":
                holding.set()
                release.wait(10)

    def update() -> None:
        with tenant_context(tenant), transaction.atomic():
            services.contact_update(
                tenant=tenant, actor=SYSTEM_ACTOR, contact_id=primary.pk, data={"company": "NewCo"}
            )
            if first == "update":
                holding.set()
                release.wait(10)

    def run(target) -> None:
        _run_in_thread(target, errors)

    leader, follower = (merge, update) if first == "merge" else (update, merge)
    threads = [threading.Thread(target=run, args=(leader,))]
    threads[0].start()
    assert holding.wait(10)
    threads.append(threading.Thread(target=run, args=(follower,)))
    threads[1].start()
    time.sleep(0.5)
    assert threads[1].is_alive()  # waiting for the row lock
    release.set()
    for thread in threads:
        thread.join(20)

    assert errors == []
    final = Contact.objects.unscoped().get(pk=primary.pk)
    assert (final.company, final.city) == ("NewCo", "Lyon")
    events = list(OutboxEvent.objects.unscoped().filter(aggregate_id=primary.pk).order_by("id"))
    assert [e.sequence for e in events] == list(range(1, final.event_sequence + 1))
    assert events[-1].payload["data"]["contact"]["company"] == "NewCo"
    assert events[-1].payload["data"]["contact"]["city"] == "Lyon"
    # The merge records the primary's sequence it left: the last one, or the one before the update's event.
    merge_row = Merge.objects.unscoped().get()
    if first == "update":
        assert merge_row.primary_sequence == final.event_sequence
    else:
        assert events[-1].event_type == "contact.updated" and "reason" not in events[-1].payload["data"]
        assert merge_row.primary_sequence == final.event_sequence - 1
        assert events[-2].event_type == "contact.merged"


@pytest.mark.django_db(transaction=True)
def test_tagging_a_contact_a_merge_holds_waits_for_the_merge_instead_of_deadlocking():
    """Given a merge holding the primary's row lock and about to move another's VIP tag to it, when the
    primary is tagged VIP meanwhile, then the tagging waits for the contact's lock before inserting its
    link (no deadlock: the merge's move does not wait on an uncommitted link) and finds the tag there."""
    from tags.models import Tag, TagAssignment
    from tags.services import contact_tag

    tenant = TenantFactory()
    with tenant_context(tenant):
        primary = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "p@example.com"})
        other = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "o@example.com"})
        contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=other.pk, names=["VIP"])
        vip = Tag.objects.for_tenant(tenant).get(name="VIP")
    holding, errors = threading.Event(), []

    def merge() -> None:  # what contact_merge does: lock in id order, then move the other's links
        with tenant_context(tenant), transaction.atomic():
            ids = sorted([primary.pk, other.pk])
            list(Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=ids).order_by("pk"))
            holding.set()
            time.sleep(0.5)  # the tagging runs meanwhile
            TagAssignment.objects.for_tenant(tenant).filter(contact_id=other.pk, tag=vip).update(
                contact_id=primary.pk
            )

    def tag() -> None:
        assert holding.wait(10)
        with tenant_context(tenant):
            contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=primary.pk, names=["VIP"])

    def run(target) -> None:
        _run_in_thread(target, errors)

    threads = [threading.Thread(target=run, args=(target,)) for target in (merge, tag)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)

    assert errors == []
    assert TagAssignment.objects.unscoped().filter(contact_id=primary.pk, tag=vip).count() == 1


def _run_in_thread(target, errors: list) -> None:
    """A thread's body: run target, keep what it raised for the test's assertion, close its connection."""
    try:
        target()
    except BaseException as exc:
        errors.append(exc)
    finally:
        connection.close()

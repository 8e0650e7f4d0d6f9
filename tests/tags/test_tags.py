"""Tags: CRUD, tagging by name, bulk apply/remove, any/all filters, events."""

import itertools
import json

import pytest
from django.urls import reverse

from contacts_service.roles import Perm
from events.models import OutboxEvent, TimelineEntry
from tags.models import Tag, TagAssignment
from tests.api_base import TenantAPITestBase
from tests.factories import ContactFactory

_seq = itertools.count()
CONTACTS = reverse("contact-list")
TAGS = reverse("tag-list")


class TestTagsEndpoint(TenantAPITestBase):
    list_url_name = "tag-list"
    detail_url_name = "tag-detail"
    permissions = {
        "list": Perm.CONTACTS_VIEW,
        "retrieve": Perm.CONTACTS_VIEW,
        "create": Perm.TAGS_MANAGE,
        "partial_update": Perm.TAGS_MANAGE,
        "destroy": Perm.TAGS_MANAGE,
    }
    invalid_data = [
        ({"name": ""}, "name"),
        ({"name": "VIP", "color": "gold"}, "color"),
        ({"name": "VIP", "color": "#12345"}, "color"),
        ({"name": "x" * 101}, "name"),
        ({"name": "VIP", "weight": 3}, "weight"),
        ({"name": 7}, "name"),
    ]

    def make_object(self, tenant):
        tag = Tag(tenant=tenant, name=f"Tag {next(_seq)}")
        tag.save(force_insert=True)
        return tag

    def model_rows(self, tenant):
        return [self.rows(Tag.objects.for_tenant(tenant)), TagAssignment.objects.for_tenant(tenant).count()]

    def create_payload(self):
        return {"name": f"New tag {next(_seq)}", "color": "#FFD700"}

    def update_payload(self):
        return {"color": "#3B82F6"}


def tag_contact(api, contact_id, *names):
    return api.post(
        reverse("contact-add-tags", kwargs={"pk": contact_id}), {"tags": list(names)}, format="json"
    )


def emails(api, **query):
    response = api.get(CONTACTS, query)
    assert response.status_code == 200, response.json()
    return sorted(c["email"] for c in response.json()["results"])


@pytest.mark.django_db
def test_tag_names_are_unique_ignoring_case_and_colour_defaults(api):
    created = api.post(TAGS, {"name": "VIP"}, format="json")
    assert created.status_code == 201
    assert created.json()["color"] == "#6B7280" and created.json()["contact_count"] == 0
    duplicate = api.post(TAGS, {"name": "vip"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["errors"][0]["code"] == "unique"


@pytest.mark.django_db
def test_tagging_by_name_creates_unknown_tags_and_shows_them_on_the_contact(api, tenant):
    api.post(TAGS, {"name": "VIP", "color": "#FFD700"}, format="json")
    contact = ContactFactory(tenant=tenant)
    response = tag_contact(api, contact.pk, "vip", "Lead", "LEAD")
    assert response.status_code == 200
    assert [(t["name"], t["color"]) for t in response.json()["tags"]] == [
        ("Lead", "#6B7280"),
        ("VIP", "#FFD700"),
    ]
    assert Tag.objects.for_tenant(tenant).count() == 2
    events = OutboxEvent.objects.unscoped().filter(aggregate_id=contact.pk).order_by("sequence")
    assert [e.event_type for e in events] == ["contact.tagged", "contact.tagged"]
    assert {e.payload["data"]["tag"]["name"] for e in events} == {"VIP", "Lead"}
    assert [e.sequence for e in events] == [1, 2]
    # re-tagging is a no-op: no new event
    tag_contact(api, contact.pk, "VIP")
    assert OutboxEvent.objects.unscoped().filter(aggregate_id=contact.pk).count() == 2
    timeline = api.get(reverse("contact-timeline", kwargs={"pk": contact.pk})).json()["results"]
    assert {t["title"] for t in timeline} == {"Tagged VIP", "Tagged Lead"}
    listed = {t["name"]: t["contact_count"] for t in api.get(TAGS).json()["results"]}
    assert listed == {"Lead": 1, "VIP": 1}


@pytest.mark.django_db
def test_untag_removes_one_tag_and_emits_untagged(api, tenant):
    contact = ContactFactory(tenant=tenant)
    tags = tag_contact(api, contact.pk, "VIP", "Lead").json()["tags"]
    vip = next(t for t in tags if t["name"] == "VIP")
    url = reverse("contact-remove-tag", kwargs={"pk": contact.pk, "tag_id": vip["id"]})
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 404
    assert [
        t["name"] for t in api.get(reverse("contact-detail", kwargs={"pk": contact.pk})).json()["tags"]
    ] == ["Lead"]
    last = OutboxEvent.objects.unscoped().filter(aggregate_id=contact.pk).order_by("-sequence").first()
    assert last.event_type == "contact.untagged" and last.payload["data"]["tag"]["id"] == vip["id"]


@pytest.mark.django_db
def test_any_and_all_tag_filters(api, tenant):
    a = ContactFactory(tenant=tenant, email="a@x.com")
    b = ContactFactory(tenant=tenant, email="b@x.com")
    c = ContactFactory(tenant=tenant, email="c@x.com")
    ContactFactory(tenant=tenant, email="d@x.com")
    tag_contact(api, a.pk, "VIP", "Lead")
    tag_contact(api, b.pk, "VIP")
    tag_contact(api, c.pk, "Lead")
    assert emails(api, tags="VIP,Lead") == ["a@x.com", "b@x.com", "c@x.com"]
    assert emails(api, tags_all="vip,LEAD") == ["a@x.com"]
    assert emails(api, tags="VIP") == ["a@x.com", "b@x.com"]
    assert emails(api, tags_all="VIP,Nope") == []
    assert emails(api, tags="Nope") == []
    assert emails(api, tags="VIP", country="FR", search="a@") == ["a@x.com"]
    vip_id = Tag.objects.for_tenant(tenant).get(name="VIP").pk
    assert emails(api, tags=str(vip_id)) == ["a@x.com", "b@x.com"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "ids_limit", [5_000, 1], ids=["holders read first", "past the limit: per-tag filters"]
)
def test_all_tags_of_three_other_tenants_and_deleted_contacts_left_out(
    api, client_for, tenant, other_tenant, monkeypatch, ids_limit
):
    from contacts import filters

    monkeypatch.setattr(filters, "TAGS_ALL_IDS_LIMIT", ids_limit)
    everything = ("VIP", "Lead", "Press")
    for email, names in (("a@x.com", everything), ("b@x.com", everything), ("c@x.com", ("VIP", "Lead")),
                         ("d@x.com", ("Lead", "Press")), ("gone@x.com", everything)):  # fmt: skip
        tag_contact(api, ContactFactory(tenant=tenant, email=email).pk, *names)
    gone = api.get(reverse("contact-list"), {"email": "gone@x.com"}).json()["results"][0]["id"]
    assert api.delete(reverse("contact-detail", kwargs={"pk": gone})).status_code == 204
    other = client_for(other_tenant)
    tag_contact(other, ContactFactory(tenant=other_tenant, email="o@x.com").pk, *everything)

    assert emails(api, tags_all="Press,vip,LEAD") == ["a@x.com", "b@x.com"]
    assert emails(api, tags_all="VIP,Lead") == ["a@x.com", "b@x.com", "c@x.com"]
    assert emails(api, tags_all="VIP,Lead", search="c@") == ["c@x.com"]
    page = api.get(reverse("contact-list"), {"tags_all": "VIP,Lead", "page_size": 2}).json()
    assert (page["count"], page["count_is_estimate"], len(page["results"])) == (3, False, 2)
    assert emails(other, tags_all="VIP,Lead,Press") == ["o@x.com"]


@pytest.mark.django_db
def test_the_plans_kept_for_a_tags_all_page_hold_neither_its_ids_nor_its_statement(api, tenant):
    """tags_all reads the holders first and filters by their ids (up to 5,000 parameters): the
    paging's per-process plans (512 kept) must not keep each such statement and its plan text."""
    from contacts_service import pagination

    for n in range(30):
        tag_contact(api, ContactFactory(tenant=tenant, email=f"h{n}@x.com").pk, "VIP", "Lead")
    pagination._estimates.clear()
    page = api.get(CONTACTS, {"tags_all": "VIP,Lead", "page_size": 2}).json()
    assert (page["count"], len(page["results"])) == (30, 2)
    assert pagination._estimates  # the plan is kept ...
    kept = repr(list(pagination._estimates.items()))
    assert "h1@x.com" not in kept and str(page["results"][0]["id"]) not in kept  # ... not the ids
    assert len(kept) < 1_000 * len(pagination._estimates)


@pytest.mark.django_db
def test_bulk_apply_by_ids_and_by_filter_writes_one_event_per_changed_contact(api, tenant):
    tag = api.post(TAGS, {"name": "Bulk"}, format="json").json()
    fr = [ContactFactory(tenant=tenant, country="FR") for _ in range(5)]
    de = [ContactFactory(tenant=tenant, country="DE") for _ in range(3)]
    apply = reverse("tag-apply", kwargs={"pk": tag["id"]})
    first = api.post(apply, {"contact_ids": [str(c.pk) for c in fr[:2]]}, format="json")
    assert first.status_code == 200 and first.json() == {"changed": 2}
    by_filter = api.post(apply, {"filter": {"country": "FR"}}, format="json")
    assert by_filter.json() == {"changed": 3}  # two already had it
    assert TagAssignment.objects.for_tenant(tenant).count() == 5
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.tagged").count() == 5
    assert TimelineEntry.objects.unscoped().filter(event_type="contact.tagged").count() == 5
    event = OutboxEvent.objects.unscoped().filter(aggregate_id=fr[0].pk).get()
    assert event.payload["data"] == {
        "contact_id": str(fr[0].pk),
        "tag": {"id": tag["id"], "name": "Bulk", "color": "#6B7280"},
    }
    assert event.payload["event_id"] == str(event.event_id) and event.sequence == 1
    assert TimelineEntry.objects.unscoped().get(event_id=event.event_id).contact_id == fr[0].pk

    remove = reverse("tag-remove", kwargs={"pk": tag["id"]})
    assert api.post(remove, {"filter": {"country": "FR,DE"}}, format="json").json() == {"changed": 5}
    assert api.post(remove, {"filter": {}}, format="json").json() == {"changed": 0}
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.untagged").count() == 5
    assert all(c.pk for c in de)


@pytest.mark.django_db
def test_bulk_with_another_tenants_ids_is_400_and_changes_nothing(client_for, tenant, other_tenant):
    api = client_for(tenant)
    tag = api.post(TAGS, {"name": "Safe"}, format="json").json()
    mine = ContactFactory(tenant=tenant)
    theirs = ContactFactory(tenant=other_tenant)
    response = api.post(
        reverse("tag-apply", kwargs={"pk": tag["id"]}),
        {"contact_ids": [str(mine.pk), str(theirs.pk)]},
        format="json",
    )
    assert response.status_code == 400
    assert str(theirs.pk) in response.json()["errors"][0]["message"]
    assert TagAssignment.objects.unscoped().count() == 0
    assert OutboxEvent.objects.unscoped().count() == 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "contact_ids"),
        ({"contact_ids": [], "filter": {}}, "contact_ids"),
        ({"contact_ids": ["nope"]}, "contact_ids.0"),
        ({"filter": {"colour": "red"}}, "filter.colour"),
        ({"filter": {"created_after": "soon"}}, "filter.created_after"),
        ({"contact_ids": ["00000000-0000-0000-0000-000000000000"] * 10001}, "contact_ids"),
    ],
)
def test_bulk_input_errors_name_the_field(api, body, field):
    tag = api.post(TAGS, {"name": "T"}, format="json").json()
    response = api.post(reverse("tag-apply", kwargs={"pk": tag["id"]}), body, format="json")
    assert response.status_code == 400, response.json()
    assert field in [e["field"] for e in response.json()["errors"]], response.json()


@pytest.mark.django_db
def test_deleting_a_tag_untags_everyone_with_events(api, tenant):
    contacts = [ContactFactory(tenant=tenant) for _ in range(3)]
    for contact in contacts:
        tag_contact(api, contact.pk, "Temp")
    tag = Tag.objects.for_tenant(tenant).get(name="Temp")
    assert api.delete(reverse("tag-detail", kwargs={"pk": tag.pk})).status_code == 204
    assert not Tag.objects.for_tenant(tenant).exists()
    assert TagAssignment.objects.for_tenant(tenant).count() == 0
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.untagged").count() == 3


@pytest.mark.django_db
def test_marketing_manager_can_tag_but_viewer_cannot(client_for, tenant):
    contact = ContactFactory(tenant=tenant)
    assert tag_contact(client_for(tenant, "marketing_manager"), contact.pk, "VIP").status_code == 200
    denied = tag_contact(client_for(tenant, "contacts_viewer"), contact.pk, "Lead")
    assert denied.status_code == 403
    assert not Tag.objects.for_tenant(tenant).filter(name="Lead").exists()


@pytest.mark.django_db
def test_bulk_events_have_the_same_envelope_as_single_events(api, tenant):
    """The bulk path builds the envelope in SQL, the single path in Python: they must agree."""
    contact = api.post(
        CONTACTS, {"email": "env@example.com"}, format="json", HTTP_X_CORRELATION_ID="c-9"
    ).json()
    tag = api.post(TAGS, {"name": "Env"}, format="json").json()
    api.post(
        reverse("tag-apply", kwargs={"pk": tag["id"]}),
        {"contact_ids": [contact["id"]]},
        format="json",
        HTTP_X_CORRELATION_ID="c-9",
    )
    created, tagged = OutboxEvent.objects.unscoped().filter(aggregate_id=contact["id"]).order_by("sequence")
    assert set(created.payload) == set(tagged.payload)
    for key in (
        "version",
        "tenant_id",
        "source",
        "correlation_id",
        "aggregate_type",
        "aggregate_id",
        "actor",
    ):
        assert created.payload[key] == tagged.payload[key], key
    assert tagged.payload["sequence"] == 2 and tagged.payload["event_type"] == "contact.tagged"
    assert tagged.payload["occurred_at"].endswith("Z") and created.payload["occurred_at"].endswith("Z")


@pytest.mark.django_db
def test_a_bulk_event_payload_keeps_a_tag_name_with_format_and_json_characters(api, tenant):
    """The bulk statement builds the payload's text from json.dumps parts and per-row values: a name
    holding %, format placeholders, quotes, a backslash and non-ASCII letters comes out as written,
    in valid JSON (the relay publishes the column's text as is)."""
    from django.db import connection

    contact = api.post(CONTACTS, {"email": "pct@example.com"}, format="json").json()
    name = '50% "off" \\ %1$s %s Zoë'
    tag = api.post(TAGS, {"name": name}, format="json").json()
    assert tag["name"] == name
    applied = api.post(reverse("tag-apply", kwargs={"pk": tag["id"]}), {"contact_ids": [contact["id"]]},
                       format="json")  # fmt: skip
    assert applied.json() == {"changed": 1}
    event = OutboxEvent.objects.unscoped().get(aggregate_id=contact["id"], event_type="contact.tagged")
    assert event.payload["data"] == {"contact_id": contact["id"], "tag": {"id": tag["id"], "name": name,
                                                                          "color": "#6B7280"}}  # fmt: skip
    assert event.payload["event_id"] == str(event.event_id) and event.payload["sequence"] == 2
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload::text FROM events_outboxevent WHERE id = %s", [event.pk])
        assert json.loads(cursor.fetchone()[0]) == event.payload


@pytest.mark.django_db
def test_the_holders_of_all_tags_are_read_in_the_current_tenant_only(api, tenant, other_tenant):
    """contacts.filters._contacts_with_all_tags joins tag rows by hand: its own tenant condition must
    hold even for a row of another tenant pointing at this tenant's tags (which the API never writes,
    so the outer, tenant-scoped queryset would hide it: only this function's result shows it)."""
    from contacts.filters import _contacts_with_all_tags
    from contacts_service.context import tenant_context

    mine = ContactFactory(tenant=tenant)
    tag_contact(api, mine.pk, "VIP", "Lead")
    tag_ids = list(Tag.objects.for_tenant(tenant).order_by("name").values_list("pk", flat=True))
    stray = ContactFactory(tenant=other_tenant)
    TagAssignment.objects.unscoped().bulk_create(
        [TagAssignment(tenant=other_tenant, tag_id=tag_id, contact=stray) for tag_id in tag_ids]
    )
    with tenant_context(tenant):
        assert _contacts_with_all_tags(tag_ids) == [mine.pk]
    with tenant_context(other_tenant):
        assert _contacts_with_all_tags(tag_ids) == [stray.pk]

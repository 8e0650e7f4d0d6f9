"""Results at the edges: filters, segment rules, membership upkeep, events, tenant isolation."""

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from lists.models import ContactList, ListMembership
from tags.models import Tag, TagAssignment
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.lists.segment_helpers import tag

LISTS = reverse("list-list")
PREVIEW = reverse("list-preview")
CONTACTS = reverse("contact-list")
TAGS = reverse("tag-list")


def emails(api, **query):
    r = api.get(CONTACTS, query)
    assert r.status_code == 200, r.content
    return sorted(c["email"] for c in r.json()["results"])


def preview(api, rules):
    r = api.post(PREVIEW, {"rules": rules}, format="json")
    assert r.status_code == 200, r.content
    return sorted(c["email"] for c in r.json()["results"])


@pytest.mark.django_db
def test_tags_all_naming_one_tag_by_name_and_by_id_matches_its_holders(owner, tenant):
    ann = ContactFactory(tenant=tenant, email="ann@x.com")
    ContactFactory(tenant=tenant, email="bob@x.com")
    tag(owner, ann, "VIP")
    vip = Tag.objects.for_tenant(tenant).get(name="VIP")
    assert emails(owner, tags=f"VIP,{vip.pk}") == ["ann@x.com"]
    assert emails(owner, tags_all=f"VIP,{vip.pk}") == ["ann@x.com"]


@pytest.mark.django_db
def test_text_negative_ops_include_contacts_without_a_value(owner, tenant):
    ContactFactory(tenant=tenant, email="ann@x.com", external_id="A1", country="FR")
    ContactFactory(tenant=tenant, email="bob@x.com", external_id=None, country="")
    assert preview(owner, {"rules": [{"field": "external_id", "op": "neq", "value": "A1"}]}) == ["bob@x.com"]
    assert preview(owner, {"rules": [{"field": "external_id", "op": "not_in", "value": ["A1"]}]}) == [
        "bob@x.com"
    ]
    assert preview(owner, {"rules": [{"field": "country", "op": "neq", "value": "FR"}]}) == ["bob@x.com"]
    assert preview(owner, {"rules": [{"field": "external_id", "op": "is_empty"}]}) == ["bob@x.com"]


@pytest.mark.django_db
def test_attribute_negative_ops_include_contacts_without_the_attribute(owner, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="vip", type="boolean")
    AttributeDefinitionFactory(tenant=tenant, key="plan", type="string")
    AttributeDefinitionFactory(tenant=tenant, key="since", type="date")
    ContactFactory(
        tenant=tenant,
        email="ann@x.com",
        attributes={"score": 5, "vip": True, "plan": "pro", "since": "2024-01-01"},
    )
    ContactFactory(tenant=tenant, email="bob@x.com", attributes={})
    for rule in [
        {"field": "attributes.score", "op": "neq", "value": 5},
        {"field": "attributes.score", "op": "not_in", "value": [5, 6]},
        {"field": "attributes.vip", "op": "neq", "value": True},
        {"field": "attributes.plan", "op": "neq", "value": "pro"},
        {"field": "attributes.plan", "op": "not_in", "value": ["pro"]},
        {"field": "attributes.since", "op": "neq", "value": "2024-01-01"},
        {"field": "attributes.score", "op": "is_empty"},
    ]:
        assert preview(owner, {"rules": [rule]}) == ["bob@x.com"], rule
    for rule in [
        {"field": "attributes.score", "op": "eq", "value": 5.0},
        {"field": "attributes.score", "op": "gte", "value": 5},
        {"field": "attributes.score", "op": "in", "value": [5]},
        {"field": "attributes.since", "op": "before", "value": "2024-01-02"},
        {"field": "attributes.plan", "op": "contains", "value": "R"},
        {"field": "attributes.plan", "op": "starts_with", "value": "P"},
        {"field": "attributes.score", "op": "is_not_empty"},
    ]:
        assert preview(owner, {"rules": [rule]}) == ["ann@x.com"], rule


@pytest.mark.django_db
def test_string_attribute_is_empty_matches_an_empty_string_as_for_text_fields(owner, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="plan", type="string")
    ContactFactory(tenant=tenant, email="ann@x.com", attributes={"plan": "pro"})
    bob = ContactFactory(tenant=tenant, email="bob@x.com", attributes={"plan": "x"})
    r = owner.patch(
        reverse("contact-detail", kwargs={"pk": bob.pk}), {"attributes": {"plan": ""}}, format="json"
    )
    assert r.status_code == 200 and r.json()["attributes"] == {"plan": ""}, r.content
    ContactFactory(tenant=tenant, email="cat@x.com", attributes={})
    ContactFactory(tenant=tenant, email="dan@x.com", company="")
    assert preview(owner, {"rules": [{"field": "company", "op": "is_empty"}]}) == ["dan@x.com"]
    assert preview(owner, {"rules": [{"field": "attributes.plan", "op": "is_empty"}]}) == [
        "bob@x.com",
        "cat@x.com",
        "dan@x.com",
    ]


@pytest.mark.django_db
def test_tags_any_all_none_and_or_nesting(owner, tenant):
    ann = ContactFactory(tenant=tenant, email="ann@x.com", country="FR")
    bob = ContactFactory(tenant=tenant, email="bob@x.com", country="DE")
    cat = ContactFactory(tenant=tenant, email="cat@x.com", country="FR")
    ContactFactory(tenant=tenant, email="dan@x.com", country="US")
    tag(owner, ann, "VIP", "Lead")
    tag(owner, bob, "VIP")
    tag(owner, cat, "Lead")
    assert preview(owner, {"rules": [{"field": "tags", "op": "any", "value": ["vip", "LEAD"]}]}) == [
        "ann@x.com",
        "bob@x.com",
        "cat@x.com",
    ]
    assert preview(owner, {"rules": [{"field": "tags", "op": "all", "value": ["vip", "LEAD"]}]}) == [
        "ann@x.com"
    ]
    assert preview(owner, {"rules": [{"field": "tags", "op": "none", "value": ["vip", "LEAD"]}]}) == [
        "dan@x.com"
    ]
    assert preview(
        owner,
        {
            "operator": "or",
            "rules": [
                {"field": "tags", "op": "all", "value": ["VIP", "Lead"]},
                {
                    "operator": "and",
                    "rules": [
                        {"field": "country", "op": "eq", "value": "us"},
                        {"field": "tags", "op": "none", "value": ["VIP"]},
                    ],
                },
            ],
        },
    ) == ["ann@x.com", "dan@x.com"]


@pytest.mark.django_db
def test_merge_with_foreign_list_is_400_and_changes_nothing(client_for, tenant, other_tenant):
    api = client_for(tenant)
    foreign_api = client_for(other_tenant)
    foreign = foreign_api.post(LISTS, {"name": "Theirs"}, format="json").json()
    fc = ContactFactory(tenant=other_tenant)
    foreign_api.post(
        reverse("list-contacts", kwargs={"pk": foreign["id"]}), {"contact_ids": [str(fc.pk)]}, format="json"
    )
    mine = api.post(LISTS, {"name": "Mine"}, format="json").json()
    other_mine = api.post(LISTS, {"name": "Mine2"}, format="json").json()
    before = OutboxEvent.objects.unscoped().count()
    r = api.post(
        reverse("list-merge", kwargs={"pk": mine["id"]}),
        {"lists": [other_mine["id"], foreign["id"]], "delete_merged": True},
        format="json",
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "lists"
    r = api.post(
        reverse("list-combine"), {"name": "C", "operation": "union", "lists": [foreign["id"]]}, format="json"
    )
    assert r.status_code == 400
    r = api.post(
        PREVIEW,
        {"rules": {"rules": [{"field": "lists", "op": "in", "value": [foreign["id"]]}]}},
        format="json",
    )
    assert r.status_code == 400
    r = api.get(CONTACTS, {"list": foreign["id"]})
    assert r.status_code == 200 and r.json()["results"] == []
    assert OutboxEvent.objects.unscoped().count() == before
    assert ContactList.objects.for_tenant(tenant).count() == 2
    assert ListMembership.objects.for_tenant(other_tenant).count() == 1


@pytest.mark.django_db
def test_foreign_tag_filters_and_untag(client_for, tenant, other_tenant):
    api = client_for(tenant)
    foreign_api = client_for(other_tenant)
    fc = ContactFactory(tenant=other_tenant, email="f@x.com")
    tag(foreign_api, fc, "Secret")
    secret = Tag.objects.for_tenant(other_tenant).get()
    mine = ContactFactory(tenant=tenant, email="m@x.com")
    assert emails(api, tags=str(secret.pk)) == []
    assert emails(api, tags_all="Secret") == []
    r = api.delete(reverse("contact-remove-tag", kwargs={"pk": fc.pk, "tag_id": secret.pk}))
    assert r.status_code == 404
    r = api.post(
        reverse("tag-apply", kwargs={"pk": secret.pk}), {"contact_ids": [str(mine.pk)]}, format="json"
    )
    assert r.status_code == 404
    r = api.post(
        reverse("list-preview"),
        {"rules": {"rules": [{"field": "tags", "op": "any", "value": ["Secret"]}]}},
        format="json",
    )
    assert r.status_code == 400
    assert TagAssignment.objects.for_tenant(other_tenant).count() == 1


@pytest.mark.django_db
def test_bulk_with_a_foreign_contact_id_is_400_and_changes_nothing(client_for, tenant, other_tenant):
    api = client_for(tenant)
    mine = ContactFactory(tenant=tenant)
    foreign = ContactFactory(tenant=other_tenant)
    lst = api.post(LISTS, {"name": "L"}, format="json").json()
    vip = api.post(TAGS, {"name": "VIP"}, format="json").json()
    before = OutboxEvent.objects.unscoped().count()
    body = {"contact_ids": [str(mine.pk), str(foreign.pk)]}
    for url in [
        reverse("list-contacts", kwargs={"pk": lst["id"]}),
        reverse("tag-apply", kwargs={"pk": vip["id"]}),
    ]:
        r = api.post(url, body, format="json")
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "contact_ids"
    assert OutboxEvent.objects.unscoped().count() == before
    assert ListMembership.objects.unscoped().count() == 0 and TagAssignment.objects.unscoped().count() == 0


@pytest.mark.django_db
def test_no_op_changes_emit_nothing(owner, tenant):
    ann = ContactFactory(tenant=tenant)
    tag(owner, ann, "VIP")
    lst = owner.post(LISTS, {"name": "L"}, format="json").json()
    url = reverse("list-contacts", kwargs={"pk": lst["id"]})
    assert owner.post(url, {"contact_ids": [str(ann.pk)]}, format="json").json() == {"changed": 1}
    before = OutboxEvent.objects.unscoped().count()
    tag(owner, ann, "vip", "VIP ")
    assert owner.post(url, {"contact_ids": [str(ann.pk)]}, format="json").json() == {"changed": 0}
    vip = Tag.objects.for_tenant(tenant).get()
    assert owner.post(reverse("tag-apply", kwargs={"pk": vip.pk}), {"filter": {}}, format="json").json() == {
        "changed": 0
    }
    r = owner.post(
        reverse("list-remove-contacts", kwargs={"pk": lst["id"]}), {"filter": {"tags": "nope"}}, format="json"
    )
    assert r.json() == {"changed": 0}
    owner.patch(reverse("list-detail", kwargs={"pk": lst["id"]}), {"name": "L"}, format="json")
    assert OutboxEvent.objects.unscoped().count() == before


@pytest.mark.django_db
def test_dynamic_copy_merge_combine(owner, tenant):
    ContactFactory(tenant=tenant, email="a@x.com", country="FR")
    b = ContactFactory(tenant=tenant, email="b@x.com", country="FR")
    c = ContactFactory(tenant=tenant, email="c@x.com", country="DE")
    seg = owner.post(
        LISTS,
        {
            "name": "FR",
            "kind": "dynamic",
            "rules": {"rules": [{"field": "country", "op": "eq", "value": "FR"}]},
        },
        format="json",
    ).json()
    assert seg["member_count"] == 2
    s1 = owner.post(LISTS, {"name": "S1"}, format="json").json()
    owner.post(
        reverse("list-contacts", kwargs={"pk": s1["id"]}),
        {"contact_ids": [str(b.pk), str(c.pk)]},
        format="json",
    )
    for op, expected in [("union", 3), ("intersection", 1), ("difference", 1)]:
        r = owner.post(
            reverse("list-combine"),
            {"name": op, "operation": op, "lists": [seg["id"], s1["id"]]},
            format="json",
        )
        assert r.status_code == 201 and r.json()["member_count"] == expected, (op, r.json())
    r = owner.post(
        reverse("list-combine"),
        {"name": "al", "operation": "at_least", "min_lists": 2, "lists": [seg["id"], s1["id"]]},
        format="json",
    )
    assert r.json()["member_count"] == 1
    copy = owner.post(
        reverse("list-copy", kwargs={"pk": seg["id"]}), {"name": "FR copy"}, format="json"
    ).json()
    assert copy["kind"] == "dynamic" and copy["member_count"] == 2
    snap = owner.post(
        reverse("list-copy", kwargs={"pk": seg["id"]}), {"name": "FR snap", "kind": "static"}, format="json"
    ).json()
    assert snap["kind"] == "static" and snap["member_count"] == 2


@pytest.mark.django_db
def test_bulk_selection_by_search_and_tags_all_filters(owner, tenant):
    ann = ContactFactory(tenant=tenant, email="ann@x.com", first_name="Ann", company="Zeta")
    bob = ContactFactory(tenant=tenant, email="bob@x.com", first_name="Bob", company="Zeta")
    ContactFactory(tenant=tenant, email="cat@x.com", first_name="Cat", company="Other")
    tag(owner, ann, "VIP", "Lead")
    tag(owner, bob, "VIP")
    lst = owner.post(LISTS, {"name": "L"}, format="json").json()
    url = reverse("list-contacts", kwargs={"pk": lst["id"]})
    r = owner.post(url, {"filter": {"search": "zeta"}}, format="json")
    assert r.status_code == 200 and r.json() == {"changed": 2}, r.content
    r = owner.post(
        reverse("list-remove-contacts", kwargs={"pk": lst["id"]}),
        {"filter": {"tags_all": "VIP,Lead"}},
        format="json",
    )
    assert r.status_code == 200 and r.json() == {"changed": 1}, r.content
    assert emails(owner, list=lst["id"]) == ["bob@x.com"]


@pytest.mark.django_db
def test_bulk_filter_with_a_list_for_a_single_valued_tag_filter_does_not_widen_the_selection(owner, tenant):
    """{"filter": {"tags_all": ["VIP", "Lead"]}} is tags_all=VIP,Lead (it became tags_all=Lead, a broader
    selection); a list for a one-value filter, null or a number is a 400, and nothing changes."""
    ann = ContactFactory(tenant=tenant, email="ann@x.com")
    cat = ContactFactory(tenant=tenant, email="cat@x.com")
    tag(owner, ann, "VIP", "Lead")
    tag(owner, cat, "Lead")
    lst = owner.post(LISTS, {"name": "L"}, format="json").json()
    r = owner.post(
        reverse("list-contacts", kwargs={"pk": lst["id"]}),
        {"filter": {"tags_all": ["VIP", "Lead"]}},
        format="json",
    )
    assert r.json() == {"changed": 1}, "cat (Lead only) was added by a tags_all of VIP and Lead"
    assert emails(owner, list=lst["id"]) == ["ann@x.com"]
    for body, field, code, message in (
        ({"city": ["Paris", "Lyon"]}, "filter.city", "invalid", "One value, not a list."),
        ({"tags": None}, "filter.tags", "null", "This field may not be null."),
        ({"country": 33}, "filter.country", "invalid", "A string or a list of strings."),
        ({"tags": []}, "filter.tags", "invalid", "A string or a list of strings."),
    ):
        r = owner.post(reverse("list-contacts", kwargs={"pk": lst["id"]}), {"filter": body}, format="json")
        assert r.status_code == 400, r.content
        assert r.json()["errors"] == [{"field": field, "code": code, "message": message}]
    assert emails(owner, list=lst["id"]) == ["ann@x.com"]


@pytest.mark.django_db
def test_renaming_a_tag_keeps_segments_on_it_following_the_tag(owner, tenant):
    ann = ContactFactory(tenant=tenant, email="ann@x.com")
    bob = ContactFactory(tenant=tenant, email="bob@x.com")
    tag(owner, ann, "VIP")
    seg = owner.post(
        LISTS,
        {
            "name": "VIPs",
            "kind": "dynamic",
            "rules": {"rules": [{"field": "tags", "op": "any", "value": ["VIP"]}]},
        },
        format="json",
    ).json()
    assert seg["member_count"] == 1
    vip = Tag.objects.for_tenant(tenant).get(name="VIP")
    assert (
        owner.patch(reverse("tag-detail", kwargs={"pk": vip.pk}), {"name": "Gold"}, format="json").status_code
        == 200
    )
    tag(owner, bob, "Gold")
    members = ListMembership.objects.for_tenant(tenant).filter(contact_list_id=seg["id"]).count()
    assert members == 2, "bob got the (renamed) tag the segment is about but did not enter it"
    rules = ContactList.objects.for_tenant(tenant).get(pk=seg["id"]).rules
    assert rules == {"rules": [{"field": "tags", "op": "any", "value": ["Gold"]}]}
    Tag.objects.for_tenant(tenant).create(tenant=tenant, name="VIP")  # a new tag takes the old name
    cat = ContactFactory(tenant=tenant, email="cat@x.com")
    tag(owner, cat, "VIP")
    assert ListMembership.objects.for_tenant(tenant).filter(contact_list_id=seg["id"]).count() == 2


@pytest.mark.django_db
def test_bulk_events_carry_odd_tag_names_intact(owner, tenant):
    ContactFactory(tenant=tenant)
    ContactFactory(tenant=tenant)
    name = 'K\u00e9 "q" \\ \U0001f600 %s %(x)s'
    t = owner.post(TAGS, {"name": name}, format="json")
    assert t.status_code == 201, t.content
    r = owner.post(reverse("tag-apply", kwargs={"pk": t.json()["id"]}), {"filter": {}}, format="json")
    assert r.json() == {"changed": 2}
    events = list(OutboxEvent.objects.unscoped().filter(event_type="contact.tagged"))
    assert len(events) == 2
    for e in events:
        p = e.payload if isinstance(e.payload, dict) else __import__("json").loads(e.payload)
        assert p["data"]["tag"]["name"] == name
        assert p["data"]["contact_id"] == p["aggregate_id"] == str(e.aggregate_id)
        assert p["sequence"] == e.sequence


@pytest.mark.django_db
def test_time_relative_segment_drops_aged_contacts_on_the_beat(owner, tenant):
    import datetime as dt

    from django.utils import timezone

    from contacts.models import Contact
    from lists.tasks import segments_rebuild_time_relative

    ann = ContactFactory(tenant=tenant, email="ann@x.com")
    seg = owner.post(
        LISTS,
        {
            "name": "New",
            "kind": "dynamic",
            "rules": {
                "operator": "or",
                "rules": [
                    {"operator": "and", "rules": [{"field": "created_at", "op": "in_last_days", "value": 30}]}
                ],
            },
        },
        format="json",
    ).json()
    assert seg["member_count"] == 1
    Contact.objects.for_tenant(tenant).filter(pk=ann.pk).update(
        created_at=timezone.now() - dt.timedelta(days=60)
    )
    assert segments_rebuild_time_relative() >= 1
    assert ListMembership.objects.for_tenant(tenant).filter(contact_list_id=seg["id"]).count() == 0
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.removed_from_list").count() == 1

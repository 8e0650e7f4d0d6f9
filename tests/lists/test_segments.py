"""Dynamic segments: rule semantics, validation naming the rule, stored membership kept current."""

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from lists.models import ListMembership
from tests.factories import AttributeDefinitionFactory, ContactFactory

LISTS = reverse("list-list")
PREVIEW = reverse("list-preview")
CONTACTS = reverse("contact-list")


def preview(api, rules) -> list[str]:
    response = api.post(PREVIEW, {"rules": rules}, format="json")
    assert response.status_code == 200, response.json()
    return sorted(c["email"] for c in response.json()["results"])


def tag(api, contact, *names):
    assert (
        api.post(
            reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": list(names)}, format="json"
        ).status_code
        == 200
    )


@pytest.fixture
def people(api, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="plan", type="choice", choices=["free", "pro"])
    ann = ContactFactory(
        tenant=tenant,
        email="ann@x.com",
        country="FR",
        company="Acme",
        attributes={"score": 10, "plan": "pro"},
    )
    bob = ContactFactory(
        tenant=tenant, email="bob@x.com", country="FR", company="Globex", attributes={"score": 3}
    )
    cat = ContactFactory(
        tenant=tenant, email="cat@x.com", country="DE", company="Acme", attributes={"plan": "free"}
    )
    dan = ContactFactory(tenant=tenant, email="dan@y.org", country="US", company="", attributes={})
    tag(api, ann, "VIP", "Lead")
    tag(api, bob, "VIP")
    tag(api, cat, "Lead")
    return {"ann": ann, "bob": bob, "cat": cat, "dan": dan}


def group(operator, *rules):
    return {"operator": operator, "rules": list(rules)}


def rule(field, op, value=None):
    return {"field": field, "op": op, "value": value} if value is not None else {"field": field, "op": op}


@pytest.mark.django_db
def test_nested_and_or_rules_match_hand_computed_sets(api, people):
    assert preview(api, group("and", rule("country", "eq", "fr"))) == ["ann@x.com", "bob@x.com"]
    assert preview(api, group("or", rule("country", "eq", "DE"), rule("email", "contains", "@y."))) == [
        "cat@x.com",
        "dan@y.org",
    ]
    assert preview(
        api,
        group(
            "and",
            rule("company", "eq", "Acme"),
            group(
                "or",
                rule("country", "eq", "FR"),
                rule("tags", "any", ["Nope-free"]) if False else rule("country", "eq", "US"),
            ),
        ),
    ) == ["ann@x.com"]
    assert preview(api, group("and", rule("attributes.score", "gt", 5))) == ["ann@x.com"]
    assert preview(
        api, group("and", rule("attributes.score", "lte", 10), rule("attributes.score", "gte", 3))
    ) == [
        "ann@x.com",
        "bob@x.com",
    ]
    assert preview(api, group("and", rule("attributes.plan", "in", ["pro", "free"]))) == [
        "ann@x.com",
        "cat@x.com",
    ]
    assert preview(api, group("and", rule("attributes.score", "is_empty"))) == ["cat@x.com", "dan@y.org"]
    assert preview(api, group("and", rule("company", "is_empty"))) == ["dan@y.org"]
    assert preview(api, group("and", rule("email", "starts_with", "B"))) == ["bob@x.com"]
    assert preview(api, group("and", rule("country", "neq", "FR"))) == ["cat@x.com", "dan@y.org"]
    assert preview(api, group("and", rule("created_at", "in_last_days", 1))) == [
        "ann@x.com",
        "bob@x.com",
        "cat@x.com",
        "dan@y.org",
    ]
    assert preview(api, group("and", rule("created_at", "before", "2000-01-01"))) == []


@pytest.mark.django_db
def test_tag_any_all_none(api, people):
    assert preview(api, group("and", rule("tags", "any", ["vip", "Lead"]))) == [
        "ann@x.com",
        "bob@x.com",
        "cat@x.com",
    ]
    assert preview(api, group("and", rule("tags", "all", ["VIP", "Lead"]))) == ["ann@x.com"]
    assert preview(api, group("and", rule("tags", "none", ["VIP"]))) == ["cat@x.com", "dan@y.org"]
    assert preview(
        api, group("or", rule("tags", "none", ["VIP", "Lead"]), rule("tags", "all", ["VIP", "Lead"]))
    ) == [
        "ann@x.com",
        "dan@y.org",
    ]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("rules", "path"),
    [
        (group("and", rule("colour", "eq", "red")), "rules.rules.0.field"),
        (group("and", rule("country", "gt", "FR")), "rules.rules.0.op"),
        (group("and", rule("attributes.score", "gt", "ten")), "rules.rules.0.value"),
        (group("and", rule("attributes.nope", "eq", 1)), "rules.rules.0.field"),
        (group("and", rule("tags", "any", ["Unknown tag"])), "rules.rules.0.value"),
        (group("and", rule("created_at", "in_last_days", -1)), "rules.rules.0.value"),
        (group("and", rule("created_at", "in_last_days", 0)), "rules.rules.0.value"),
        (group("and", rule("created_at", "after", "tomorrow")), "rules.rules.0.value"),
        (group("and", rule("created_at", "after", "0001-01-01T00:00:00+01:00")), "rules.rules.0.value"),
        (group("xor", rule("country", "eq", "FR")), "rules.operator"),
        (group("and"), "rules.rules"),
        (
            group("and", rule("country", "eq", "FR"), group("or", rule("lists", "in", ["not-a-uuid"]))),
            "rules.rules.1.rules.0.value",
        ),
        ("country=FR", "rules"),
    ],
)
def test_invalid_rules_are_400_naming_the_rule(api, people, rules, path):
    response = api.post(PREVIEW, {"rules": rules}, format="json")
    assert response.status_code == 400
    assert path in [e["field"] for e in response.json()["errors"]], response.json()


@pytest.mark.django_db
def test_a_utc_offset_postgresql_refuses_is_read_as_utc_in_preview_and_in_a_dynamic_list(api, people):
    # +18:55 and -16:30 are valid ISO 8601 offsets, out of PostgreSQL's range: once a 500 (DataError)
    after = group("and", rule("created_at", "after", "2000-01-01T00:00:00+18:55"))
    preview = api.post(PREVIEW, {"rules": after}, format="json")
    assert preview.status_code == 200 and preview.json()["count"] == len(people)
    before = group("and", rule("updated_at", "before", "2000-01-01T00:00:00-16:30"))
    created = api.post(LISTS, {"name": "Old", "kind": "dynamic", "rules": before}, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["member_count"] == 0


@pytest.mark.django_db
def test_rules_deeper_than_five_are_refused(api, people):
    deep = rule("country", "eq", "FR")
    for _ in range(5):
        deep = group("and", deep)
    assert api.post(PREVIEW, {"rules": deep}, format="json").status_code == 200
    too_deep = group("and", deep)
    response = api.post(PREVIEW, {"rules": too_deep}, format="json")
    assert response.status_code == 400 and "5" in response.json()["errors"][0]["message"]


@pytest.mark.django_db
def test_dynamic_list_membership_is_stored_and_follows_contact_changes(
    api, tenant, people, django_capture_on_commit_callbacks
):
    segment = api.post(
        LISTS,
        {
            "name": "French VIPs",
            "kind": "dynamic",
            "rules": group("and", rule("country", "eq", "FR"), rule("tags", "any", ["VIP"])),
        },
        format="json",
    )
    assert segment.status_code == 201, segment.json()
    segment = segment.json()
    members_url = reverse("list-contacts", kwargs={"pk": segment["id"]})

    def members():
        return sorted(c["email"] for c in api.get(members_url).json()["results"])

    assert members() == ["ann@x.com", "bob@x.com"] and segment["member_count"] == 2
    # update: bob moves to Germany -> leaves
    api.patch(reverse("contact-detail", kwargs={"pk": people["bob"].pk}), {"country": "DE"}, format="json")
    assert members() == ["ann@x.com"]
    # tag: cat is French and gets VIP -> enters
    api.patch(reverse("contact-detail", kwargs={"pk": people["cat"].pk}), {"country": "FR"}, format="json")
    assert members() == ["ann@x.com"]
    tag(api, people["cat"], "VIP")
    assert members() == ["ann@x.com", "cat@x.com"]
    # untag: ann loses VIP -> leaves
    vip = next(t for t in api.get(reverse("tag-list")).json()["results"] if t["name"] == "VIP")
    api.delete(reverse("contact-remove-tag", kwargs={"pk": people["ann"].pk, "tag_id": vip["id"]}))
    assert members() == ["cat@x.com"]
    # create: a new French VIP... needs a tag, so create then tag
    new = api.post(CONTACTS, {"email": "eve@x.com", "country": "FR"}, format="json").json()
    assert members() == ["cat@x.com"]
    assert (
        api.post(
            reverse("contact-add-tags", kwargs={"pk": new["id"]}), {"tags": ["VIP"]}, format="json"
        ).status_code
        == 200
    )
    assert members() == ["cat@x.com", "eve@x.com"]
    # bulk untag of everyone (bob, cat, eve) rebuilds the segment right after commit
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(reverse("tag-remove", kwargs={"pk": vip["id"]}), {"filter": {}}, format="json")
    assert response.json()["changed"] == 3 and len(callbacks) == 1
    assert members() == []
    events = OutboxEvent.objects.unscoped().filter(
        event_type__in=["contact.added_to_list", "contact.removed_from_list"]
    )
    assert all(e.payload["data"]["list"]["kind"] == "dynamic" for e in events)
    assert events.filter(event_type="contact.added_to_list").count() == 4  # ann, bob, cat, eve
    assert events.filter(event_type="contact.removed_from_list").count() == 4


@pytest.mark.django_db
def test_rule_change_rebuilds_and_members_cannot_be_changed_by_hand(api, tenant, people):
    segment = api.post(
        LISTS,
        {"name": "Acme", "kind": "dynamic", "rules": group("and", rule("company", "eq", "Acme"))},
        format="json",
    ).json()
    url = reverse("list-detail", kwargs={"pk": segment["id"]})
    assert api.get(url).json()["member_count"] == 2
    changed = api.patch(url, {"rules": group("and", rule("country", "eq", "US"))}, format="json")
    assert changed.status_code == 200 and changed.json()["member_count"] == 1
    invalid = api.patch(url, {"rules": group("and", rule("country", "between", "US"))}, format="json")
    assert invalid.status_code == 400 and invalid.json()["errors"][0]["field"] == "rules.rules.0.op"
    manual = api.post(
        reverse("list-contacts", kwargs={"pk": segment["id"]}),
        {"contact_ids": [str(people["ann"].pk)]},
        format="json",
    )
    assert manual.status_code == 409
    assert ListMembership.objects.for_tenant(tenant).filter(contact_list_id=segment["id"]).count() == 1
    no_rules = api.post(LISTS, {"name": "Empty", "kind": "dynamic"}, format="json")
    assert no_rules.status_code == 400 and no_rules.json()["errors"][0]["field"] == "rules"
    static_rules = api.post(
        LISTS, {"name": "S", "rules": group("and", rule("country", "eq", "FR"))}, format="json"
    )
    assert static_rules.status_code == 400


@pytest.mark.django_db
def test_segment_on_static_list_membership(api, tenant, people, django_capture_on_commit_callbacks):
    static = api.post(LISTS, {"name": "Imported"}, format="json").json()
    api.post(
        reverse("list-contacts", kwargs={"pk": static["id"]}),
        {"contact_ids": [str(people["dan"].pk)]},
        format="json",
    )
    assert preview(api, group("and", rule("lists", "in", [static["id"]]))) == ["dan@y.org"]
    assert len(preview(api, group("and", rule("lists", "not_in", [static["id"]])))) == 3
    segment = api.post(
        LISTS,
        {
            "name": "From import",
            "kind": "dynamic",
            "rules": group("and", rule("lists", "in", [static["id"]])),
        },
        format="json",
    ).json()
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            reverse("list-contacts", kwargs={"pk": static["id"]}),
            {"contact_ids": [str(people["ann"].pk)]},
            format="json",
        )
    assert api.get(reverse("list-detail", kwargs={"pk": segment["id"]})).json()["member_count"] == 2
    referencing_dynamic = api.post(
        PREVIEW, {"rules": group("and", rule("lists", "in", [segment["id"]]))}, format="json"
    )
    assert referencing_dynamic.status_code == 400

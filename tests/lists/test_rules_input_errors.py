"""Segment rules, tag and list names, and bulk bodies a client can send: a 400 naming the field
(or the right answer), never a 500."""

import pytest
from django.urls import reverse

from lists.dynamic import segment_rebuild
from lists.models import ContactList
from tags.models import Tag, TagAssignment
from tests.factories import AttributeDefinitionFactory, ContactFactory

LISTS = reverse("list-list")
PREVIEW = reverse("list-preview")
TAGS = reverse("tag-list")


def fields(response):
    return [e["field"] for e in response.json().get("errors", [])]


@pytest.mark.django_db
def test_preview_impossible_calendar_date_on_date_attribute_is_400(owner, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="birthday", type="date")
    response = owner.post(
        PREVIEW,
        {
            "rules": {
                "operator": "and",
                "rules": [{"field": "attributes.birthday", "op": "eq", "value": "2024-02-30"}],
            }
        },
        format="json",
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert "rules.rules.0.value" in fields(response)


@pytest.mark.django_db
def test_create_dynamic_list_impossible_date_attribute_is_400(owner, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="birthday", type="date")
    response = owner.post(
        LISTS,
        {
            "name": "Bday",
            "kind": "dynamic",
            "rules": {"rules": [{"field": "attributes.birthday", "op": "before", "value": "2023-13-01"}]},
        },
        format="json",
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert not ContactList.objects.for_tenant(tenant).exists()


@pytest.mark.django_db
def test_preview_number_overflowing_to_infinity_is_400(owner, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    body = '{"rules": {"rules": [{"field": "attributes.score", "op": "gt", "value": 1e400}]}}'
    response = owner.generic("POST", PREVIEW, body, content_type="application/json")
    assert response.status_code == 400, (response.status_code, response.content[:300])


@pytest.mark.django_db
def test_preview_nul_in_text_rule_is_400(owner, tenant):
    response = owner.post(
        PREVIEW,
        {"rules": {"rules": [{"field": "email", "op": "eq", "value": "a\x00b@x.com"}]}},
        format="json",
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])


@pytest.mark.django_db
def test_preview_nul_in_tag_rule_is_400(owner, tenant):
    response = owner.post(
        PREVIEW, {"rules": {"rules": [{"field": "tags", "op": "any", "value": ["a\x00b"]}]}}, format="json"
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])


@pytest.mark.django_db
def test_create_dynamic_list_nul_in_rules_is_400(owner, tenant):
    response = owner.post(
        LISTS,
        {
            "name": "Nul",
            "kind": "dynamic",
            "rules": {"rules": [{"field": "city", "op": "contains", "value": "\x00"}]},
        },
        format="json",
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])


@pytest.mark.django_db
def test_bulk_tag_filter_with_nul_in_tags_is_400(owner, tenant):
    tag = Tag.objects.for_tenant(tenant).create(tenant=tenant, name="VIP")
    response = owner.post(
        reverse("tag-apply", kwargs={"pk": tag.pk}), {"filter": {"tags": "a\x00b"}}, format="json"
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])


@pytest.mark.django_db
def test_list_add_filter_with_nul_in_tags_all_is_400(owner, tenant):
    lst = owner.post(LISTS, {"name": "L"}, format="json").json()
    response = owner.post(
        reverse("list-contacts", kwargs={"pk": lst["id"]}),
        {"filter": {"tags_all": "a\x00b,c"}},
        format="json",
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])


@pytest.mark.django_db
def test_contact_tag_name_equal_lowercase_different_uppercase_is_not_500(owner, tenant):
    contact = ContactFactory(tenant=tenant)
    Tag.objects.for_tenant(tenant).create(tenant=tenant, name="k")
    response = owner.post(
        reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": ["\u212a"]}, format="json"
    )
    assert response.status_code == 200, (response.status_code, response.content[:300])
    assert list(Tag.objects.for_tenant(tenant).values_list("name", flat=True)) == ["k"]  # the same name
    assert TagAssignment.objects.for_tenant(tenant).filter(contact=contact).count() == 1


@pytest.mark.django_db
def test_tag_rename_clashing_in_lowercase_is_400(owner, tenant):
    Tag.objects.for_tenant(tenant).create(tenant=tenant, name="k")
    other = Tag.objects.for_tenant(tenant).create(tenant=tenant, name="Other")
    response = owner.patch(reverse("tag-detail", kwargs={"pk": other.pk}), {"name": "\u212a"}, format="json")
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert "name" in fields(response)


@pytest.mark.django_db
def test_tag_create_clashing_in_lowercase_is_400(owner, tenant):
    Tag.objects.for_tenant(tenant).create(tenant=tenant, name="k")
    response = owner.post(TAGS, {"name": "\u212a"}, format="json")
    assert response.status_code == 400, (response.status_code, response.content[:300])


@pytest.mark.django_db
def test_list_rename_clashing_in_lowercase_is_400(owner, tenant):
    owner.post(LISTS, {"name": "k"}, format="json")
    other = owner.post(LISTS, {"name": "Other"}, format="json").json()
    response = owner.patch(
        reverse("list-detail", kwargs={"pk": other["id"]}), {"name": "\u212a"}, format="json"
    )
    assert response.status_code == 400, (response.status_code, response.content[:300])


@pytest.mark.django_db
def test_preview_lists_rule_values_odd_types_are_400(owner, tenant):
    for value in [None, "x", [None], [{}], [1], ["not-a-uuid"], [[]]]:
        response = owner.post(
            PREVIEW, {"rules": {"rules": [{"field": "lists", "op": "in", "value": value}]}}, format="json"
        )
        assert response.status_code == 400, (value, response.status_code, response.content[:300])


BAD_RULES = [
    None,
    [],
    "x",
    1,
    {"rules": None},
    {"rules": {}},
    {"operator": ["and"], "rules": [{"field": "email", "op": "eq", "value": "a"}]},
    {"rules": [{"field": ["email"], "op": "eq", "value": "a"}]},
    {"rules": [{"field": "email", "op": ["eq"], "value": "a"}]},
    {"rules": [{"field": "email", "op": {"a": 1}, "value": "a"}]},
    {"rules": [{"field": "email", "op": "in", "value": [1]}]},
    {"rules": [{"field": "email", "op": "eq", "value": None}]},
    {"rules": [{"field": "created_at", "op": "before", "value": "99999-01-01"}]},
    {"rules": [{"field": "created_at", "op": "before", "value": "0000-01-01"}]},
    {"rules": [{"field": "created_at", "op": "after", "value": "2024-01-01T25:00:00"}]},
    {"rules": [{"field": "created_at", "op": "after", "value": "9999-12-31T23:59:59-15:00"}]},
    {"rules": [{"field": "created_at", "op": "after", "value": "0001-01-01T00:00:00+15:00"}]},
    {"rules": [{"field": "created_at", "op": "in_last_days", "value": 10**30}]},
    {"rules": [{"field": "created_at", "op": "in_last_days", "value": 1.5}]},
    {"rules": [{"field": "attributes.score", "op": "in", "value": [1, "x"]}]},
    {"rules": [{"field": "attributes.d", "op": "before", "value": "2024-02-30"}]},
    {"rules": [{"field": "attributes.d", "op": "in", "value": ["2024-02-30"]}]},
    {"rules": [{"field": "attributes.b", "op": "eq", "value": "true"}]},
    {"rules": [{"field": "attributes.s", "op": "contains", "value": 1}]},
    {"rules": [{"field": "attributes.unknown", "op": "eq", "value": 1}]},
    {"rules": [{"field": "attributes.", "op": "eq", "value": 1}]},
    {"rules": [{"field": "attributes.score__gt", "op": "eq", "value": 1}]},
    {"rules": [{"field": "tags", "op": "any", "value": "VIP"}]},
    {"rules": [{"field": "tags", "op": "any", "value": [""]}]},
    {"rules": [{"field": "consent.email", "op": "eq", "value": "granted"}]},
    {"rules": [{"field": "consent.email.marketing", "op": "eq", "value": ["granted"]}]},
    {"rules": [{"field": "consent.email.marketing", "op": "in", "value": [["granted"]]}]},
    {"rules": [{"field": "activity", "op": "had", "value": {"type": "x", "in_last_days": 10**20}}]},
    {"rules": [{"field": "activity", "op": "had", "value": {"type": ["x"]}}]},
    {"rules": [{"field": "activity", "op": "had", "value": None}]},
]


@pytest.mark.django_db
@pytest.mark.parametrize("rules", BAD_RULES, ids=[str(i) for i in range(len(BAD_RULES))])
def test_preview_odd_rule_shapes_are_400(owner, tenant, rules):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="d", type="date")
    AttributeDefinitionFactory(tenant=tenant, key="b", type="boolean")
    AttributeDefinitionFactory(tenant=tenant, key="s", type="string")
    response = owner.post(PREVIEW, {"rules": rules}, format="json")
    assert response.status_code == 400, (rules, response.status_code, response.content[:300])


@pytest.mark.django_db
def test_tagging_by_a_name_whose_lowercase_clashes_with_an_existing_tag_is_not_500(owner, tenant):
    """A tag named with the Kelvin sign (U+212A) lower-cases to "k" (the unique index) but does not
    upper-case to "K" (name__iexact): tagging with "k" must reuse it or be a 400, never a 500."""
    contact = ContactFactory(tenant=tenant)
    created = owner.post(TAGS, {"name": "\u212a"}, format="json")
    assert created.status_code == 201, created.content
    response = owner.post(
        reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": ["k"]}, format="json"
    )
    assert response.status_code == 200, (response.status_code, response.content[:300])
    assert list(Tag.objects.for_tenant(tenant).values_list("name", flat=True)) == ["\u212a"]
    assert TagAssignment.objects.for_tenant(tenant).filter(contact=contact).count() == 1


ODD_CALLS = [
    ("post", "merge", {"lists": ["not-a-uuid"]}),
    ("post", "merge", {"lists": [None]}),
    ("post", "merge", {"lists": "x"}),
    ("post", "merge", {"lists": [], "delete_merged": "yes"}),
    ("post", "combine", {"name": "c", "operation": "union", "lists": [None]}),
    ("post", "combine", {"name": "c", "operation": "at_least", "lists": ["$L"], "min_lists": 10**30}),
    ("post", "combine", {"name": "c", "operation": "at_least", "lists": ["$L"], "min_lists": -1}),
    ("post", "combine", {"name": ["c"], "operation": "union", "lists": ["$L"]}),
    ("post", "copy", {"name": "x" * 151}),
    ("post", "copy", {"name": "\u00a0\u2003"}),
    ("post", "copy", {"name": "L"}),
    ("post", "copy", {"name": "c", "kind": "dynamic"}),
    ("post", "shares", {"email": "x" * 300 + "@x.com"}),
    ("post", "shares", {"user_id": None}),
    ("post", "shares", {"user_id": "00000000-0000-0000-0000-000000000000"}),
    ("post", "shares", {"user_id": "1", "email": "a@b.c"}),
    ("post", "contacts", {"contact_ids": []}),
    ("post", "contacts", {"contact_ids": ["x"]}),
    ("post", "contacts", {"filter": None}),
    ("post", "contacts", {"filter": {"list": "nope"}}),
    ("post", "contacts", {"filter": {"tags": ",".join(f"t{i}" for i in range(60))}}),
    ("post", "contacts", {"filter": {"bogus": 1}}),
    ("patch", "detail", {"rules": {"rules": [{"field": "country", "op": "eq", "value": "FR"}]}}),
    ("patch", "detail", {"kind": "dynamic"}),
    ("patch", "detail", {"name": None}),
    ("patch", "detail", {"status": "deleted"}),
    ("patch", "detail", {}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("method,action,body", ODD_CALLS, ids=[str(i) for i in range(len(ODD_CALLS))])
def test_odd_list_bodies_are_4xx(owner, tenant, method, action, body):
    lst = owner.post(LISTS, {"name": "L"}, format="json").json()
    body = {
        k: ([lst["id"] if x == "$L" else x for x in v] if isinstance(v, list) else v) for k, v in body.items()
    }
    url = reverse(
        "list-detail" if action == "detail" else f"list-{action}",
        kwargs=None if action == "combine" else {"pk": lst["id"]},
    )
    response = getattr(owner, method)(url, body, format="json")
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        {"list": "nope"},
        {"tags": ",".join(f"t{i}" for i in range(51))},
        {"tags_all": "x" * 10000},
        {"tags": "\U0001f600"},
        {"tags_all": "00000000-0000-0000-0000-000000000000,VIP"},
        {"tags": ","},
    ],
)
def test_contact_list_tag_filters_never_500(owner, tenant, query):
    response = owner.get(reverse("contact-list"), query)
    assert response.status_code in (200, 400), (response.status_code, response.content[:300])


@pytest.mark.django_db
def test_a_choice_compared_whole_must_be_one_of_the_choices(owner, tenant):
    """`eq`, `neq`, `in` and `not_in` on a choice attribute take its choices (exactly, as a contact's
    value must be): "Pro" of ["free", "pro"] is a 400 naming the value, not a rule matching nobody;
    `contains` takes any text, and a segment saved before keeps following contacts."""
    AttributeDefinitionFactory(tenant=tenant, key="plan", type="choice", choices=["free", "pro"])
    ContactFactory(tenant=tenant, attributes={"plan": "pro"})

    def preview(op, value):
        rule = {"field": "attributes.plan", "op": op, "value": value}
        return owner.post(PREVIEW, {"rules": {"operator": "and", "rules": [rule]}}, format="json")

    assert fields(preview("eq", "Pro")) == ["rules.rules.0.value"]
    assert fields(preview("neq", "gold")) == ["rules.rules.0.value"]
    assert fields(preview("in", ["pro", "gold"])) == ["rules.rules.0.value"]
    assert "free, pro" in preview("eq", "Pro").json()["errors"][0]["message"]
    assert preview("eq", "pro").json()["count"] == 1
    assert preview("not_in", ["free"]).json()["count"] == 1
    assert preview("contains", "Pr").json()["count"] == 1

    stored = ContactList.objects.for_tenant(tenant).create(
        tenant=tenant, name="Gold", kind="dynamic",
        rules={"operator": "or", "rules": [{"field": "attributes.plan", "op": "eq", "value": "gold"},
                                          {"field": "attributes.plan", "op": "eq", "value": "pro"}]},
    )  # fmt: skip
    segment_rebuild(tenant=tenant, list_id=stored.pk)
    members = owner.get(reverse("list-contacts", kwargs={"pk": stored.pk}))
    assert members.json()["count"] == 1

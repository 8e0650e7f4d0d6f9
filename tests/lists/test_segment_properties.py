"""Property test: any nested rule tree selects exactly the contacts a plain Python reading of the
rules selects. Negative operators (neq, not_in, none) are the complement of their positive ones,
so a contact with no value matches them ("country is not FR" includes contacts without a country).
"""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contacts.models import Contact
from lists.segments import compile_rules
from tags.models import Tag, TagAssignment
from tests.factories import AttributeDefinitionFactory, ContactFactory

COUNTRIES = ["FR", "DE", ""]
COMPANIES = ["Acme", "Globex", ""]
SCORES = [None, 1, 5, 10]
TAG_SETS = [set(), {"VIP"}, {"Lead"}, {"VIP", "Lead"}]


@pytest.fixture
def population(tenant):
    """Every combination of country, company, score and tags: 3 * 3 * 4 * 4 = 144 contacts."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    tags = {}
    for name in ("VIP", "Lead"):
        tags[name] = Tag(tenant=tenant, name=name)
        tags[name].save(force_insert=True)
    people = {}
    for n, (country, company, score, tag_set) in enumerate(
        itertools.product(COUNTRIES, COMPANIES, SCORES, TAG_SETS)
    ):
        contact = ContactFactory(
            tenant=tenant, email=f"p{n}@x.com", country=country, company=company,
            attributes={} if score is None else {"score": score},
        )  # fmt: skip
        for name in tag_set:
            TagAssignment(tenant=tenant, contact=contact, tag=tags[name]).save(force_insert=True)
        people[contact.pk] = {"country": country, "company": company, "score": score, "tags": tag_set}
    return people


def _text(attr, op, value):
    def match(p):
        v = p[attr]
        return {
            "eq": lambda: v == value,
            "neq": lambda: v != value,
            "in": lambda: v in value,
            "not_in": lambda: v not in value,
            "contains": lambda: value.lower() in v.lower(),
            "starts_with": lambda: v.lower().startswith(value.lower()),
            "is_empty": lambda: v == "",
            "is_not_empty": lambda: v != "",
        }[op]()

    return match


def _score(op, value):
    def match(p):
        v = p["score"]
        if op == "is_empty":
            return v is None
        if op == "is_not_empty":
            return v is not None
        if op in ("neq", "not_in"):
            return not _score("eq" if op == "neq" else "in", value)(p)
        if v is None:
            return False
        if op == "in":
            return v in value
        return {"eq": v == value, "lt": v < value, "gt": v > value, "lte": v <= value, "gte": v >= value}[op]

    return match


def _tags(op, value):
    wanted = set(value)
    return {
        "any": lambda p: bool(p["tags"] & wanted),
        "all": lambda p: wanted <= p["tags"],
        "none": lambda p: not p["tags"] & wanted,
    }[op]


text_rules = st.one_of(
    st.tuples(st.sampled_from(["eq", "neq"]), st.sampled_from(["FR", "DE", "US"])).map(
        lambda t: ({"field": "country", "op": t[0], "value": t[1]}, _text("country", *t))
    ),
    st.tuples(
        st.sampled_from(["in", "not_in"]), st.lists(st.sampled_from(["FR", "DE", "US"]), min_size=1)
    ).map(lambda t: ({"field": "country", "op": t[0], "value": t[1]}, _text("country", *t))),
    st.tuples(
        st.sampled_from(["contains", "starts_with", "eq", "neq"]), st.sampled_from(["ac", "Glo", "Acme"])
    ).map(lambda t: ({"field": "company", "op": t[0], "value": t[1]}, _text("company", *t))),
    st.sampled_from(["is_empty", "is_not_empty"]).map(
        lambda op: ({"field": "company", "op": op}, _text("company", op, None))
    ),
)
score_rules = st.one_of(
    st.tuples(st.sampled_from(["eq", "neq", "lt", "gt", "lte", "gte"]), st.sampled_from([1, 5, 7, 10])).map(
        lambda t: ({"field": "attributes.score", "op": t[0], "value": t[1]}, _score(*t))
    ),
    st.tuples(st.sampled_from(["in", "not_in"]), st.lists(st.sampled_from([1, 5, 7]), min_size=1)).map(
        lambda t: ({"field": "attributes.score", "op": t[0], "value": t[1]}, _score(*t))
    ),
    st.sampled_from(["is_empty", "is_not_empty"]).map(
        lambda op: ({"field": "attributes.score", "op": op}, _score(op, None))
    ),
)
tag_rules = st.tuples(
    st.sampled_from(["any", "all", "none"]),
    st.lists(st.sampled_from(["VIP", "Lead"]), min_size=1, unique=True),
).map(lambda t: ({"field": "tags", "op": t[0], "value": t[1]}, _tags(*t)))


def _group(children_strategy):
    def build(t):
        operator, children = t
        rules = [rule for rule, _ in children]
        matchers = [match for _, match in children]
        combine = all if operator == "and" else any
        return {"operator": operator, "rules": rules}, lambda p: combine(m(p) for m in matchers)

    return st.tuples(st.sampled_from(["and", "or"]), st.lists(children_strategy, min_size=1, max_size=3)).map(
        build
    )


leaf = st.one_of(text_rules, score_rules, tag_rules)
rule_trees = _group(st.recursive(leaf, _group, max_leaves=8))


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=rule_trees)
def test_nested_rules_select_what_they_say(tenant, population, tree):
    rules, expected_match = tree
    expected = {pk for pk, person in population.items() if expected_match(person)}
    matching = Contact.objects.for_tenant(tenant).filter(compile_rules(tenant=tenant, rules=rules))
    selected = set(matching.values_list("pk", flat=True))
    assert selected == expected, rules

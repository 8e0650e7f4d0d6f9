"""Current consent as a contacts filter and as a segment rule."""

import pytest
from django.urls import reverse

from lists.models import ListMembership
from tests.factories import ContactFactory

CONTACTS = reverse("contact-list")


def state(api, contact, status, channel="email", purpose="marketing"):
    response = api.post(
        reverse("contact-consents", kwargs={"contact_pk": contact.pk}),
        {"channel": channel, "purpose": purpose, "status": status},
        format="json",
    )
    assert response.status_code == 201, response.json()


@pytest.fixture
def people(api, tenant):
    ann, bob, cat, dan = (ContactFactory(tenant=tenant, email=f"{n}@example.com") for n in "abcd")
    state(api, ann, "granted")
    state(api, bob, "granted")
    state(api, bob, "revoked")
    state(api, cat, "pending")
    state(api, cat, "granted", channel="sms")
    return ann, bob, cat, dan


def emails(api, query) -> list[str]:
    response = api.get(CONTACTS, {"consent": query})
    assert response.status_code == 200, response.json()
    return sorted(c["email"] for c in response.json()["results"])


def test_consent_filter_matches_the_current_state(api, people, other_tenant, client_for):
    assert emails(api, "email:marketing:granted") == ["a@example.com"]
    assert emails(api, "email:marketing:revoked") == ["b@example.com"]
    assert emails(api, "email:marketing:pending") == ["c@example.com"]
    assert emails(api, "email:marketing:none") == ["d@example.com"]
    assert emails(api, "sms:marketing:granted") == ["c@example.com"]
    assert emails(api, "email:marketing:pending,sms:marketing:granted") == ["c@example.com"]
    assert emails(api, "email:newsletter:granted") == []
    # Another tenant's consents never show: its contacts have none.
    other = client_for(other_tenant)
    ContactFactory(tenant=other_tenant, email="x@example.com")
    assert sorted(
        c["email"] for c in other.get(CONTACTS, {"consent": "email:marketing:none"}).json()["results"]
    ) == ["x@example.com"]


BAD_QUERIES = [
    "fax:marketing:granted",
    "email:astrology:granted",
    "email:marketing:maybe",
    "email",
    "email:marketing",
]


@pytest.mark.parametrize("query", BAD_QUERIES)
def test_malformed_consent_filter_is_a_400_naming_it(api, people, query):
    response = api.get(CONTACTS, {"consent": query})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["consent"]


def test_consent_segment_rule_and_membership_kept_current(api, people, tenant):
    ann, _bob, _cat, dan = people
    rules = {"rules": [{"field": "consent.email.marketing", "op": "eq", "value": "granted"}]}
    created = api.post(
        reverse("list-list"), {"name": "Newsletter", "kind": "dynamic", "rules": rules}, format="json"
    )
    assert created.status_code == 201, created.json()
    list_id = created.json()["id"]

    def members():
        return set(
            ListMembership.objects.unscoped()
            .filter(contact_list_id=list_id)
            .values_list("contact_id", flat=True)
        )

    assert members() == {ann.pk}
    state(api, dan, "granted")
    assert members() == {ann.pk, dan.pk}
    state(api, ann, "revoked")
    assert members() == {dan.pk}

    def preview(rule):
        response = api.post(reverse("list-preview"), {"rules": {"rules": [rule]}}, format="json")
        assert response.status_code == 200, response.json()
        return sorted(c["email"] for c in response.json()["results"])

    assert preview({"field": "consent.email.marketing", "op": "neq", "value": "granted"}) == [
        "a@example.com", "b@example.com", "c@example.com"]  # fmt: skip
    assert preview({"field": "consent.email.marketing", "op": "in", "value": ["pending", "revoked"]}) == [
        "a@example.com", "b@example.com", "c@example.com"]  # fmt: skip
    assert preview({"field": "consent.email.marketing", "op": "is_empty"}) == []
    assert preview({"field": "consent.sms.marketing", "op": "is_not_empty"}) == ["c@example.com"]
    for rule, field in (
        ({"field": "consent.fax.marketing", "op": "eq", "value": "granted"}, "rules.rules.0.field"),
        ({"field": "consent.email.nope", "op": "eq", "value": "granted"}, "rules.rules.0.field"),
        ({"field": "consent.email.marketing", "op": "eq", "value": "yes"}, "rules.rules.0.value"),
        ({"field": "consent.email.marketing", "op": "contains", "value": "g"}, "rules.rules.0.op"),
    ):
        response = api.post(reverse("list-preview"), {"rules": {"rules": [rule]}}, format="json")
        assert response.status_code == 400
        assert [e["field"] for e in response.json()["errors"]] == [field]


def test_more_consent_conditions_than_allowed_are_a_400_not_ignored(api, people):
    # The 11th condition contradicts the first ten: ignoring it would answer the wrong contacts.
    eleven = ",".join(["email:marketing:none"] * 10 + ["email:marketing:granted"])
    response = api.get(CONTACTS, {"consent": eleven})
    assert response.status_code == 400, response.json()
    assert [e["field"] for e in response.json()["errors"]] == ["consent"]
    assert emails(api, ",".join(["email:marketing:none"] * 10)) == ["d@example.com"]

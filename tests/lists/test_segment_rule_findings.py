"""Dynamic segment rules at their edges (found by a bug hunt): status in/not_in and date attribute
values are checked as eq is, a fragment keeps its spaces, an erasure does not rebuild an archived
segment."""

import pytest
from django.urls import reverse

from contacts_service.roles import Role
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.lists.segment_helpers import is_member, list_events, rule, segment

PREVIEW = reverse("list-preview")
CONTACTS = reverse("contact-list")


@pytest.fixture
def owner(client_for, tenant):
    """An owner's client whose server errors come back as 500 responses, not raised exceptions."""
    client = client_for(tenant, Role.OWNER)
    client.raise_request_exception = False
    return client


def preview(api, *rules):
    return api.post(PREVIEW, {"rules": {"operator": "and", "rules": list(rules)}}, format="json")


def error_fields(response):
    return [e["field"] for e in response.json().get("errors", [])]


@pytest.mark.django_db
@pytest.mark.parametrize("op", ["in", "not_in"])
def test_status_in_and_not_in_refuse_an_unknown_status_as_eq_does(owner, tenant, op):
    """`status in ["activ"]` (or not_in) is a 400 naming rules.rules.0.value, as eq is (in selected
    nobody and not_in everybody)."""
    ContactFactory(tenant=tenant, email="a@x.com")
    assert preview(owner, rule("status", "eq", "activ")).status_code == 400  # eq refuses it
    response = preview(owner, rule("status", op, ["activ"]))
    assert response.status_code == 400, (response.status_code, response.json())
    assert "rules.rules.0.value" in error_fields(response)


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["20240105", "2024-W01-5", "2024-1-5"])
def test_date_attribute_rule_value_must_be_yyyy_mm_dd(owner, tenant, value):
    """A date attribute rule takes YYYY-MM-DD only, as a contact's value and the attribute filter do
    (20240105, 2024-W01-5 and 2024-1-5 were read as 2024-01-05)."""
    AttributeDefinitionFactory(tenant=tenant, key="since", type="date")
    ContactFactory(tenant=tenant, email="a@x.com", attributes={"since": "2024-01-05"})
    assert owner.get(CONTACTS, {"attribute": f"since:{value}"}).status_code == 400  # the filter refuses it
    response = preview(owner, rule("attributes.since", "eq", value))
    assert response.status_code == 400, (response.status_code, response.json())
    assert "rules.rules.0.value" in error_fields(response)


@pytest.mark.django_db
def test_starts_with_and_contains_on_a_text_field_keep_the_spaces_of_the_value(owner, tenant):
    """`display_name starts_with "Ann "` selects Ann Lee, not Anne Smith; `company contains " AG"` Siemens
    AG, not Wagner Ltd (the value was trimmed)."""
    AttributeDefinitionFactory(tenant=tenant, key="nick", type="string")
    ContactFactory(
        tenant=tenant,
        email="ann@x.com",
        first_name="Ann",
        last_name="Lee",
        display_name="Ann Lee",
        company="Siemens AG",
        attributes={"nick": "Ann Lee"},
    )
    ContactFactory(
        tenant=tenant,
        email="anne@x.com",
        first_name="Anne",
        last_name="Smith",
        display_name="Anne Smith",
        company="Wagner Ltd",
        attributes={"nick": "Anne Smith"},
    )
    attr = preview(owner, rule("attributes.nick", "starts_with", "Ann "))
    assert [c["email"] for c in attr.json()["results"]] == ["ann@x.com"]  # a string attribute keeps it
    starts = preview(owner, rule("display_name", "starts_with", "Ann "))
    assert [c["email"] for c in starts.json()["results"]] == ["ann@x.com"], starts.json()["results"]
    contains = preview(owner, rule("company", "contains", " AG"))
    assert [c["email"] for c in contains.json()["results"]] == ["ann@x.com"], contains.json()["results"]


@pytest.mark.django_db
def test_erasing_a_contact_named_in_an_archived_segment_does_not_rebuild_it(
    owner, tenant, django_capture_on_commit_callbacks
):
    """An erasure scrubbing an archived segment's rules does not rebuild it: it stays as archived until
    made active again (a contact changed meanwhile joined it, with an event)."""
    ann = ContactFactory(tenant=tenant, email="ann@x.com", country="FR")
    bob = ContactFactory(tenant=tenant, email="bob@x.com", country="FR")
    seg = segment(owner, "S", rule("email", "eq", "ann@x.com"), rule("country", "eq", "DE"), operator="or")
    assert is_member(ann.pk, seg["id"]) and not is_member(bob.pk, seg["id"])
    archived = owner.patch(
        reverse("list-detail", kwargs={"pk": seg["id"]}), {"status": "archived"}, format="json"
    )
    assert archived.status_code == 200, archived.content
    moved = owner.patch(reverse("contact-detail", kwargs={"pk": bob.pk}), {"country": "DE"}, format="json")
    assert moved.status_code == 200, moved.content
    assert not is_member(bob.pk, seg["id"])  # archived: not refreshed, as documented
    with django_capture_on_commit_callbacks(execute=True):
        erased = owner.post(reverse("contact-gdpr-erase", kwargs={"pk": ann.pk}))
    assert erased.status_code in (200, 204), erased.content
    assert not is_member(bob.pk, seg["id"])
    assert list_events(bob.pk, seg["id"], "contact.added_to_list") == 0

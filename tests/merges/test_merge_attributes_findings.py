"""Merges and undo against the custom attribute definitions: a merge never leaves a contact without a
required attribute, and an undo never brings back a value its definition no longer admits."""

import pytest
from django.urls import reverse

from contacts.models import AttributeDefinition, Contact, Merge
from tests.merges.conftest import contact_url, create, last_outbox_id, merge_url, undo_url

ATTRS = reverse("attribute-definition-list")


def define(api, **body) -> dict:
    response = api.post(ATTRS, body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
def test_a_merge_cannot_remove_a_required_attribute_from_the_primary(api):
    """docs/api.md: required attributes "cannot be removed". Choosing, in `fields`, a contact without
    the attribute would leave the primary without it: a 400 naming the field, nothing merged."""
    other = create(api, email="b@example.com")  # made before plan became required
    define(api, key="plan", label="Plan", type="string", required=True)
    primary = create(api, email="a@example.com", attributes={"plan": "pro"})
    before = last_outbox_id()

    response = api.post(
        merge_url(primary["id"]),
        {"others": [other["id"]], "fields": {"attributes.plan": other["id"]}},
        format="json",
    )

    assert response.status_code == 400, response.json()
    assert "fields.attributes.plan" in [e["field"] for e in response.json()["errors"]]
    assert api.get(contact_url(primary["id"])).json()["attributes"] == {"plan": "pro"}
    assert Merge.objects.unscoped().count() == 0
    assert last_outbox_id() == before


@pytest.mark.django_db
def test_undo_never_restores_a_choice_that_was_removed_from_the_definition(api):
    """The primary's `plan` before the merge lives on only in the merge's snapshot. Removing that
    choice must either be refused (in_use: a merge that can still be undone holds it) or make the
    undo refuse; never may the undo write a value that is not one of the choices."""
    definition = define(api, key="plan", label="Plan", type="choice", choices=["free", "pro"])
    primary = create(api, email="a@example.com", attributes={"plan": "free"})
    other = create(api, email="b@example.com", attributes={"plan": "pro"})
    merged = api.post(
        merge_url(primary["id"]),
        {"others": [other["id"]], "fields": {"attributes.plan": other["id"]}},
        format="json",
    )
    assert merged.status_code == 201

    removal = api.patch(f"{ATTRS}{definition['id']}/", {"choices": ["pro"]}, format="json")
    undo = api.post(undo_url(merged.json()["merge_id"]))

    assert (removal.status_code, undo.status_code) in ((400, 200), (200, 409)), (removal.json(), undo.json())
    choices = AttributeDefinition.objects.unscoped().get(pk=definition["id"]).choices
    for contact in Contact.objects.unscoped().filter(pk__in=[primary["id"], other["id"]]):
        assert contact.attributes.get("plan") in choices, (contact.pk, contact.attributes, choices)


@pytest.mark.django_db
def test_undo_never_restores_an_attribute_whose_definition_was_deleted(api):
    """docs/api.md: deleting a definition contacts still use is a 409 `in_use`, so no contact holds a
    value without a definition. After a merge that dropped the primary's `nick`, the only holder is
    the merge's snapshot: the delete must be refused, or the undo must refuse; the undo must not
    bring back a key no definition describes (a later definition of another type would then hold a
    string in a number attribute)."""
    definition = define(api, key="nick", label="Nickname", type="string")
    primary = create(api, email="a@example.com", attributes={"nick": "annie"})
    other = create(api, email="b@example.com")
    merged = api.post(
        merge_url(primary["id"]),
        {"others": [other["id"]], "fields": {"attributes.nick": other["id"]}},
        format="json",
    )
    assert merged.status_code == 201
    assert merged.json()["contact"]["attributes"] == {}

    deletion = api.delete(f"{ATTRS}{definition['id']}/")
    undo = api.post(undo_url(merged.json()["merge_id"]))

    assert (deletion.status_code, undo.status_code) in ((409, 200), (204, 409)), (
        deletion.status_code,
        undo.json(),
    )
    keys = set(AttributeDefinition.objects.unscoped().values_list("key", flat=True))
    for contact in Contact.objects.unscoped().filter(pk__in=[primary["id"], other["id"]]):
        assert set(contact.attributes) <= keys, (contact.pk, contact.attributes, keys)

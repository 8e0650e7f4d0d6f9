"""Typed custom attributes and channel identifiers (with resolve)."""

import pytest
from django.urls import reverse

from contacts.models import Contact
from tests.factories import AttributeDefinitionFactory, ContactFactory

LIST = reverse("contact-list")
DEFINITIONS = reverse("attribute-definition-list")
RESOLVE = reverse("contact-resolve")


def detail(contact_id) -> str:
    return reverse("contact-detail", kwargs={"pk": contact_id})


def identifiers(contact_id) -> str:
    return reverse("contact-identifier-list", kwargs={"contact_pk": contact_id})


@pytest.fixture
def definitions(api):
    for body in (
        {"key": "score", "label": "Score", "type": "number"},
        {"key": "vip", "label": "VIP", "type": "boolean"},
        {"key": "birthday", "label": "Birthday", "type": "date"},
        {"key": "plan", "label": "Plan", "type": "choice", "choices": ["free", "pro"]},
        {"key": "nickname", "label": "Nickname", "type": "string"},
    ):
        assert api.post(DEFINITIONS, body, format="json").status_code == 201


@pytest.mark.django_db
def test_attributes_are_checked_against_their_definitions(api, definitions):
    bad = api.post(
        LIST,
        {
            "email": "t@example.com",
            "attributes": {
                "score": "12",
                "vip": "yes",
                "birthday": "31/12/1990",
                "plan": "gold",
                "nickname": 5,
                "shoe": 42,
            },
        },
        format="json",
    )
    assert bad.status_code == 400
    fields = {e["field"]: e["message"] for e in bad.json()["errors"]}
    assert fields == {
        "attributes.score": "Must be a number.",
        "attributes.vip": "Must be true or false.",
        "attributes.birthday": "Must be a date as YYYY-MM-DD.",
        "attributes.plan": "Must be one of: free, pro.",
        "attributes.nickname": "Must be a string.",
        "attributes.shoe": "Unknown attribute; define it with /api/v1/attribute-definitions/ first.",
    }
    good = api.post(
        LIST,
        {
            "email": "t@example.com",
            "attributes": {"score": 12.5, "vip": True, "birthday": "1990-12-31", "plan": "pro"},
        },
        format="json",
    )
    assert good.status_code == 201
    assert good.json()["attributes"] == {"score": 12.5, "vip": True, "birthday": "1990-12-31", "plan": "pro"}


@pytest.mark.django_db
def test_patch_merges_attributes_and_null_removes_one(api, definitions):
    contact = api.post(
        LIST, {"email": "m@example.com", "attributes": {"score": 1, "plan": "free"}}, format="json"
    ).json()
    patched = api.patch(
        detail(contact["id"]), {"attributes": {"score": 2, "plan": None}}, format="json"
    ).json()
    assert patched["attributes"] == {"score": 2}


@pytest.mark.django_db
def test_required_attribute_must_be_given_on_create_and_cannot_be_removed(api, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="region", type="string", required=True)
    missing = api.post(LIST, {"email": "r@example.com"}, format="json")
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "attributes.region"
    contact = api.post(LIST, {"email": "r@example.com", "attributes": {"region": "EU"}}, format="json").json()
    removed = api.patch(detail(contact["id"]), {"attributes": {"region": None}}, format="json")
    assert removed.status_code == 400 and removed.json()["errors"][0]["code"] == "required"
    # Spaces are no value either (a string is trimmed): refused on create and on update.
    blank = api.post(LIST, {"email": "b@example.com", "attributes": {"region": "   "}}, format="json")
    assert blank.status_code == 400 and blank.json()["errors"][0]["field"] == "attributes.region"
    emptied = api.patch(detail(contact["id"]), {"attributes": {"region": " "}}, format="json")
    assert emptied.status_code == 400 and emptied.json()["errors"][0]["code"] == "required"
    assert api.get(detail(contact["id"])).json()["attributes"] == {"region": "EU"}


@pytest.mark.django_db
def test_definition_in_use_cannot_be_deleted_nor_its_used_choices_removed(api, definitions):
    api.post(LIST, {"email": "u@example.com", "attributes": {"plan": "pro"}}, format="json")
    plan = next(d for d in api.get(DEFINITIONS).json() if d["key"] == "plan")
    url = reverse("attribute-definition-detail", kwargs={"pk": plan["id"]})
    response = api.delete(url)
    assert response.status_code == 409 and response.json()["in_use"] == 1
    shrink = api.patch(url, {"choices": ["free"]}, format="json")
    assert shrink.status_code == 400 and shrink.json()["errors"][0]["code"] == "in_use"
    assert api.patch(url, {"choices": ["free", "pro", "team"]}, format="json").status_code == 200
    retype = api.patch(url, {"type": "string"}, format="json")
    assert retype.status_code == 400 and retype.json()["errors"][0]["field"] == "type"
    duplicate = api.post(DEFINITIONS, {"key": "plan", "label": "Again", "type": "string"}, format="json")
    assert duplicate.status_code == 400 and duplicate.json()["errors"][0]["code"] == "unique"


@pytest.mark.django_db
def test_a_choice_cannot_be_removed_while_an_import_writing_the_attribute_is_under_way(
    api, tenant, definitions
):
    """An import checks its rows against the choices it read when it started: removing a choice while
    it runs left the removed value on the contacts of its later batches. Refused (400 in_use) while
    an import mapping the attribute is queued or running; other imports do not hold it back."""
    from imports.models import ImportJob, ImportStatus

    plan = next(d for d in api.get(DEFINITIONS).json() if d["key"] == "plan")
    url = reverse("attribute-definition-detail", kwargs={"pk": plan["id"]})
    job = ImportJob.objects.unscoped().create(
        tenant=tenant, file="imports/x.csv", encoding="utf-8", delimiter=",", status=ImportStatus.RUNNING,
        header=["email", "Plan"], mapping={"email": "email", "Plan": "attributes.plan"},
    )  # fmt: skip
    ImportJob.objects.unscoped().create(
        tenant=tenant, file="imports/y.csv", encoding="utf-8", delimiter=",", status=ImportStatus.RUNNING,
        header=["email"], mapping={"email": "email"},
    )  # fmt: skip

    shrink = api.patch(url, {"choices": ["free"]}, format="json")

    assert shrink.status_code == 400, shrink.content
    [error] = shrink.json()["errors"]
    assert (error["field"], error["code"]) == ("choices", "in_use") and str(job.pk) in error["message"]
    assert (
        api.patch(url, {"choices": ["free", "pro", "team"]}, format="json").status_code == 200
    )  # adding is fine
    ImportJob.objects.unscoped().filter(pk=job.pk).update(status=ImportStatus.COMPLETED)
    assert api.patch(url, {"choices": ["free"]}, format="json").status_code == 200


@pytest.mark.django_db
def test_identifiers_are_normalised_unique_per_channel_and_resolvable(api, tenant):
    ada = ContactFactory(tenant=tenant, email="ada@example.com", country="FR", phone="+33611111111")
    bob = ContactFactory(tenant=tenant, email="bob@example.com")
    added = api.post(identifiers(ada.pk), {"channel": "whatsapp", "value": "06 12 34 56 78"}, format="json")
    assert added.status_code == 201 and added.json()["value"] == "+33612345678"
    taken = api.post(identifiers(bob.pk), {"channel": "whatsapp", "value": "+33612345678"}, format="json")
    assert taken.status_code == 400 and taken.json()["errors"][0]["code"] == "unique"
    # the same number on another channel is another identifier
    assert (
        api.post(identifiers(bob.pk), {"channel": "sms", "value": "+33612345678"}, format="json").status_code
        == 201
    )

    def resolve(channel, identifier):
        return api.get(RESOLVE, {"channel": channel, "identifier": identifier})

    assert resolve("whatsapp", "+33612345678").json()["id"] == str(ada.pk)
    assert resolve("sms", "+33 6 12 34 56 78").json()["id"] == str(bob.pk)
    assert resolve("email", "ADA@example.com").json()["id"] == str(ada.pk)  # the contact's own email
    assert resolve("phone", "+33611111111").json()["id"] == str(ada.pk)  # the contact's own phone
    assert resolve("push", "unknown-token").status_code == 404
    assert resolve("fax", "1").status_code == 400
    assert resolve("email", "not-an-email").json()["errors"][0]["field"] == "identifier"
    assert api.get(RESOLVE).status_code == 400

    listed = api.get(identifiers(ada.pk)).json()
    assert [i["value"] for i in listed] == ["+33612345678"]
    assert api.get(detail(ada.pk)).json()["identifiers"][0]["channel"] == "whatsapp"


@pytest.mark.django_db
def test_resolve_never_finds_another_tenants_or_a_deleted_contact(client_for, tenant, other_tenant):
    ContactFactory(tenant=other_tenant, email="theirs@example.com")
    mine = ContactFactory(tenant=tenant, email="mine@example.com")
    api = client_for(tenant)
    assert api.get(RESOLVE, {"channel": "email", "identifier": "theirs@example.com"}).status_code == 404
    api.delete(detail(mine.pk))
    assert api.get(RESOLVE, {"channel": "email", "identifier": "mine@example.com"}).status_code == 404


@pytest.mark.django_db
def test_identifier_changes_are_in_history_and_events(api, tenant):
    contact = ContactFactory(tenant=tenant)
    identifier = api.post(
        identifiers(contact.pk), {"channel": "push", "value": "tok-1"}, format="json"
    ).json()
    url = reverse("contact-identifier-detail", kwargs={"contact_pk": contact.pk, "pk": identifier["id"]})
    assert api.patch(url, {"verified": True}, format="json").json()["verified"] is True
    assert api.delete(url).status_code == 204
    assert api.delete(url).status_code == 404
    history = api.get(reverse("contact-history", kwargs={"pk": contact.pk})).json()["results"]
    assert [h["field"] for h in history] == [
        "identifiers.push",
        "identifiers.push.verified",
        "identifiers.push",
    ]
    contact.refresh_from_db()
    assert contact.event_sequence == 3


@pytest.mark.django_db
def test_identifier_of_another_tenants_contact_is_404(client_for, tenant, other_tenant):
    theirs = ContactFactory(tenant=other_tenant)
    response = client_for(tenant).post(
        identifiers(theirs.pk), {"channel": "push", "value": "x"}, format="json"
    )
    assert response.status_code == 404
    assert not Contact.objects.unscoped().get(pk=theirs.pk).identifiers.exists()

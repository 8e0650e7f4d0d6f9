"""One mailbox, one contact: an address whose domain is written another way (punycode, full-width
letters, an ideographic full stop, upper case) is the same address for uniqueness, lookups,
identifiers, imports and tombstones."""

import pytest
from django.urls import reverse

from contacts.gdpr import _hash, _salt, erased_values
from contacts.models import Contact, ContactIdentifier, ErasureTombstone
from tests.imports.conftest import run, upload

LIST = reverse("contact-list")
UNICODE = "ann@bücher.example"
SPELLINGS = [
    "ann@xn--bcher-kva.example",  # punycode of the same domain
    "Ann@BÜCHER.example",
    "ann@ｂüｃｈｅｒ．ｅｘａｍｐｌｅ",  # full-width letters and full stop
    "ann@bücher。example",  # ideographic full stop
]


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", SPELLINGS)
def test_another_spelling_of_a_stored_address_is_the_same_contact(api, tenant, spelling):
    first = api.post(LIST, {"email": UNICODE}, format="json")
    assert first.status_code == 201 and first.json()["email"] == UNICODE
    again = api.post(LIST, {"email": spelling}, format="json")
    assert again.status_code == 400, again.json()
    assert again.json()["errors"][0]["code"] == "unique"
    found = api.get(LIST, {"email": spelling}).json()["results"]
    assert [c["id"] for c in found] == [first.json()["id"]]
    assert Contact.objects.for_tenant(tenant).count() == 1


@pytest.mark.django_db
def test_a_punycode_address_is_stored_in_its_unicode_spelling(api):
    created = api.post(LIST, {"email": "Bob@XN--BCHER-KVA.example"}, format="json")
    assert created.status_code == 201 and created.json()["email"] == "bob@bücher.example"
    # a label that is not valid punycode stays as written (and is still a valid address)
    odd = api.post(LIST, {"email": "bob@xn--zz.example"}, format="json")
    assert odd.status_code == 201 and odd.json()["email"] == "bob@xn--zz.example"


@pytest.mark.django_db
def test_an_identifier_in_another_spelling_of_a_held_one_is_refused(api, tenant):
    ann = api.post(LIST, {"email": UNICODE}, format="json").json()
    bob = api.post(LIST, {"email": "bob@example.com"}, format="json").json()
    url = reverse("contact-identifier-list", kwargs={"contact_pk": bob["id"]})
    response = api.post(url, {"channel": "email", "value": "zed@ｅｘａｍｐｌｅ.com"}, format="json")
    assert response.status_code == 201 and response.json()["value"] == "zed@example.com"
    again = api.post(url, {"channel": "email", "value": "ZED@xn--xample-9ua.com"}, format="json")
    assert again.status_code == 201, again.json()  # another domain: éxample.com
    same = api.post(url, {"channel": "email", "value": "ZED@example。com"}, format="json")
    assert same.status_code == 400 and same.json()["errors"][0]["code"] == "unique", same.json()
    values = ContactIdentifier.objects.for_tenant(tenant).values_list("value", flat=True)
    assert sorted(values) == ["zed@example.com", "zed@éxample.com"]
    assert Contact.objects.for_tenant(tenant).get(pk=ann["id"]).email == UNICODE


@pytest.mark.django_db
def test_an_import_row_in_another_spelling_updates_the_contact(api, tenant):
    api.post(LIST, {"email": UNICODE, "first_name": "Ann"}, format="json")
    response = upload(api, f"Email,First Name\n{SPELLINGS[0]},Anna\n{SPELLINGS[2]},Annie\n")
    job = run(api, response.json()["id"])
    assert (job["created"], job["updated"]) == (0, 1), job
    assert list(Contact.objects.for_tenant(tenant).values_list("email", "first_name")) == [(UNICODE, "Annie")]


@pytest.mark.django_db
def test_an_erased_address_is_recognised_in_any_spelling(api, tenant):
    ann = api.post(LIST, {"email": UNICODE}, format="json").json()
    assert api.post(reverse("contact-gdpr-erase", kwargs={"pk": ann["id"]})).status_code == 200
    for spelling in SPELLINGS:
        response = api.post(LIST, {"email": spelling}, format="json")
        assert response.status_code == 409, (spelling, response.json())
        assert response.json()["code"] == "erased"
    assert not Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True).exists()


@pytest.mark.django_db
def test_a_tombstone_hashed_before_canonical_domains_still_matches_its_own_spelling(tenant):
    """Tombstones written before this change hashed the address lower-cased as given."""
    legacy = "ann@xn--bcher-kva.example"
    ErasureTombstone.objects.for_tenant(tenant).create(
        tenant=tenant, contact_id=tenant.pk, email_hash=_hash(_salt(tenant, create=True), legacy)
    )
    assert erased_values(tenant, emails=["Ann@XN--BCHER-KVA.example", UNICODE, "bob@example.com"]) == {
        "Ann@XN--BCHER-KVA.example"
    }


@pytest.mark.django_db
def test_the_migration_rewrites_stored_spellings_unless_another_contact_holds_the_canonical_one(tenant):
    from importlib import import_module

    from django.apps import apps

    from tests.factories import ContactFactory

    migration = import_module("contacts.migrations.0016_canonical_email_domains")
    alone = ContactFactory(tenant=tenant, email="solo@placeholder.example")
    clash = ContactFactory(tenant=tenant, email="ann@placeholder.example")
    holder = ContactFactory(tenant=tenant, email=UNICODE)
    # spellings the service stored before (lower-cased as given)
    Contact.objects.for_tenant(tenant).filter(pk=alone.pk).update(email="solo@xn--bcher-kva.example")
    full_width = "ann@ｂüｃｈｅｒ.example"
    Contact.objects.for_tenant(tenant).filter(pk=clash.pk).update(email=full_width)
    extra = ContactIdentifier.objects.for_tenant(tenant).create(
        tenant=tenant, contact=holder, channel="email", value="ann.extra@xn--bcher-kva.example"
    )
    migration.forwards(apps, None)
    assert ContactIdentifier.objects.for_tenant(tenant).get(pk=extra.pk).value == "ann.extra@bücher.example"
    emails = dict(Contact.objects.for_tenant(tenant).values_list("pk", "email"))
    # the clash stays as it was: a duplicate of the holder, for a merge to settle
    assert emails == {
        alone.pk: "solo@bücher.example",
        clash.pk: "ann@ｂüｃｈｅｒ.example",
        holder.pk: UNICODE,
    }

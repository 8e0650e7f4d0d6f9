"""The tombstone of an erased contact: keyed hashes that stop it coming back unless asked."""

import hashlib

import pytest

from contacts.gdpr import erased_values
from contacts.models import Contact, ErasureTombstone, TombstoneSalt
from contacts_service.roles import Role
from tests.gdpr.conftest import CONTACTS, EMAIL, EXTRA_EMAIL, PHONE, WHATSAPP, detail


@pytest.fixture
def erased(api, subject):
    assert api.post(detail(subject.id, "erase")).status_code == 200
    return subject


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": EMAIL.title()}, "email"),
        ({"email": f"  {EXTRA_EMAIL.upper()} "}, "email"),  # an identifier of the erased contact
        ({"phone": "06 12 34 56 78", "country": "FR"}, "phone"),
        ({"phone": "+44 7911 123456"}, "phone"),  # its WhatsApp number
        ({"email": "someone.else@example.com", "phone": PHONE}, "phone"),
    ],
)
def test_creating_an_erased_email_or_phone_is_409_erased_naming_the_field(api, tenant, erased, body, field):
    response = api.post(CONTACTS, body, format="json")
    assert response.status_code == 409, response.json()
    error = response.json()
    assert error["code"] == "erased"
    assert error["errors"] == [{"field": field, "code": "erased", "message": error["message"]}]
    assert "allow_erased" in error["message"]
    assert not Contact.objects.for_tenant(tenant).exists()


@pytest.mark.django_db
def test_allow_erased_creates_it_anyway_and_is_create_only(api, tenant, erased):
    response = api.post(CONTACTS, {"email": EMAIL, "phone": PHONE, "allow_erased": True}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["email"] == EMAIL and "allow_erased" not in response.json()
    assert api.post(CONTACTS, {"phone": WHATSAPP, "allow_erased": False}, format="json").status_code == 409
    patch = api.patch(detail(response.json()["id"]), {"allow_erased": True}, format="json")
    assert patch.status_code == 400 and patch.json()["errors"][0]["field"] == "allow_erased"
    # The tombstone stays: the erasure is still on record.
    assert ErasureTombstone.objects.for_tenant(tenant).filter(contact_id=erased.id).count() == 3


@pytest.mark.django_db
def test_unrelated_values_and_other_tenants_are_not_blocked(api, client_for, other_tenant, erased):
    assert api.post(CONTACTS, {"email": "new.person@example.com"}, format="json").status_code == 201
    assert client_for(other_tenant).post(CONTACTS, {"email": EMAIL}, format="json").status_code == 201


@pytest.mark.django_db
def test_erased_values_matches_given_values_ignoring_case_in_one_query_per_kind(
    tenant, other_tenant, erased, django_assert_num_queries
):
    with django_assert_num_queries(3):  # the salt, the emails, the phones
        found = erased_values(
            tenant,
            emails=[EMAIL.upper(), f" {EXTRA_EMAIL} ", "nobody@example.com", "not an email"],
            phones=["+33 6 12 34 56 78", WHATSAPP, "+33699999999", "0612345678"],
        )
    # A national number without its country cannot be read, so it does not match.
    assert found == {EMAIL.upper(), f" {EXTRA_EMAIL} ", "+33 6 12 34 56 78", WHATSAPP}
    assert erased_values(tenant, emails=[], phones=[]) == set()
    with django_assert_num_queries(1):  # no salt: no erasure ever, nothing else to ask
        assert erased_values(other_tenant, emails=[EMAIL], phones=[PHONE]) == set()


@pytest.mark.django_db
def test_hashes_are_keyed_per_tenant_and_survive_a_secret_key_rotation(
    client_for, tenant, other_tenant, erased, settings
):
    other = client_for(other_tenant, Role.OWNER)
    twin = other.post(CONTACTS, {"email": EMAIL}, format="json").json()
    assert other.post(detail(twin["id"], "erase")).status_code == 200

    ours = (
        ErasureTombstone.objects.for_tenant(tenant)
        .exclude(email_hash=None)
        .values_list("email_hash", flat=True)
    )
    theirs = ErasureTombstone.objects.for_tenant(other_tenant).get().email_hash
    assert theirs not in set(ours)  # same email, other tenant's salt
    assert hashlib.sha256(EMAIL.encode()).hexdigest() not in set(ours)
    assert (
        TombstoneSalt.objects.for_tenant(tenant).get().salt
        != TombstoneSalt.objects.for_tenant(other_tenant).get().salt
    )

    settings.SECRET_KEY = "rotated-secret-key-0123456789-0123456789-0123456789"
    assert erased_values(tenant, emails=[EMAIL]) == {EMAIL}
    assert erased_values(other_tenant, emails=[EMAIL]) == {EMAIL}


@pytest.mark.django_db
def test_a_contact_without_email_or_phone_leaves_an_empty_tombstone(api, tenant):
    contact = api.post(CONTACTS, {"external_id": "crm-77"}, format="json").json()
    receipt = api.post(detail(contact["id"], "erase")).json()
    assert receipt["tombstone"] == {"email": False, "phone": False}
    [row] = ErasureTombstone.objects.for_tenant(tenant).filter(contact_id=contact["id"])
    assert (row.email_hash, row.phone_hash) == (None, None)
    assert api.post(CONTACTS, {"external_id": "crm-77"}, format="json").status_code == 201

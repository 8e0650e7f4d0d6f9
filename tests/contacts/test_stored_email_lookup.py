"""A contact stored with a non-ASCII local part (accepted before such addresses were refused) is still
found by its address: lookups do not apply the rule for new values."""

import pytest
from django.urls import reverse

from tests.factories import ContactFactory

STORED = "\u017fam@example.com"  # accepted and stored before 05a8d80


@pytest.mark.django_db
def test_a_contact_stored_with_a_non_ascii_local_part_is_still_resolved_by_its_address(api, tenant):
    """GET /contacts/resolve/ by the stored address answers the contact (it was a 400 on identifier)."""
    contact = ContactFactory(tenant=tenant, email=STORED)

    response = api.get(reverse("contact-resolve"), {"channel": "email", "identifier": STORED})

    assert response.status_code == 200, response.json()
    assert response.json()["id"] == str(contact.pk)

"""A merged contact stays reachable at its addresses through the primary."""

import pytest
from django.urls import reverse

from tests.merges.conftest import create, merge_url

RESOLVE = reverse("contact-resolve")


@pytest.mark.django_db
@pytest.mark.parametrize("channel", ["phone", "sms", "whatsapp"])
def test_a_merged_contacts_phone_still_resolves_on_every_phone_channel(api, channel):
    """docs/api.md: resolve looks at the contact's own phone for phone, sms and whatsapp; a merge turns
    the others' phones into identifiers of the primary and "`resolve` finds the primary by any of
    them". Before the merge an inbound SMS/WhatsApp from B's number resolves to B; after it, it must
    resolve to the primary, not 404."""
    primary = create(api, email="a@example.com", phone="+33612345678")
    other = create(api, email="b@example.com", phone="+33698765432")
    query = {"channel": channel, "identifier": "+33698765432"}
    assert api.get(RESOLVE, query).json()["id"] == other["id"]

    assert api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json").status_code == 201

    response = api.get(RESOLVE, query)
    assert response.status_code == 200, response.json()
    assert response.json()["id"] == primary["id"]

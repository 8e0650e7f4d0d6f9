"""GDPR erasure: personal data of the erased contact that stays in the database, or comes back.

docs/api.md, GDPR: erase: "delete the contact and all its personal data for good"; the tombstone is
there "so a later import does not bring it back unless asked" (DESIGN.md).
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.gdpr.conftest import table_hits

CONTACTS = reverse("contact-list")
LISTS = reverse("list-list")
EXPORTS = "/api/v1/exports/"

EMAIL = "brindlewick.oxmoor@erase-leftover.example"
OLD_EMAIL = "b.oxmoor.before@erase-leftover.example"
OLD_PHONE = "+33611223344"


def _erase(api, contact_id: str) -> None:
    response = api.post(reverse("contact-gdpr-erase", kwargs={"pk": contact_id}))
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_erase_leaves_the_email_in_no_segment_rule(api):
    """A dynamic list whose rules name the contact's email keeps the address after the erasure
    (lists_contactlist.rules): the erased email is still in the database."""
    created = api.post(CONTACTS, {"email": EMAIL, "first_name": "Brindlewick"}, format="json")
    assert created.status_code == 201, created.content
    segment = api.post(
        LISTS,
        {
            "name": "Just this one person",
            "kind": "dynamic",
            "rules": {"operator": "and", "rules": [{"field": "email", "op": "eq", "value": EMAIL}]},
        },
        format="json",
    )
    assert segment.status_code == 201, segment.content
    assert segment.json()["member_count"] == 1

    _erase(api, created.json()["id"])

    assert table_hits("brindlewick.oxmoor") == {}


@pytest.mark.django_db
def test_erase_leaves_the_email_in_no_export_job_filter(api):
    """An export asked for `?email=<address>` keeps the address in exports_exportjob.filters after the
    contact is erased (the file itself is refused with 410 file_gone, its request is not scrubbed)."""
    created = api.post(CONTACTS, {"email": EMAIL, "first_name": "Brindlewick"}, format="json")
    assert created.status_code == 201, created.content
    export = api.post(EXPORTS, {"filters": {"email": EMAIL}}, format="json")
    assert export.status_code == 201, export.content

    _erase(api, created.json()["id"])

    assert table_hits("brindlewick.oxmoor") == {}


@pytest.mark.django_db
def test_an_email_and_phone_the_contact_held_before_an_update_are_tombstoned_too(api):
    """The tombstone keeps only the values the contact holds at the erasure: an email or phone it
    had before a PATCH (the one an old CSV import still carries) is created again without
    allow_erased, so a re-run of the import that first brought the person in brings them back."""
    created = api.post(CONTACTS, {"email": OLD_EMAIL, "phone": OLD_PHONE}, format="json")
    assert created.status_code == 201, created.content
    contact_id = created.json()["id"]
    changed = api.patch(
        reverse("contact-detail", kwargs={"pk": contact_id}),
        {"email": EMAIL, "phone": "+33699887766"},
        format="json",
    )
    assert changed.status_code == 200, changed.content

    _erase(api, contact_id)

    again = api.post(CONTACTS, {"email": OLD_EMAIL}, format="json")
    assert again.status_code == 409, again.content
    assert again.json()["code"] == "erased"
    again = api.post(CONTACTS, {"phone": OLD_PHONE}, format="json")
    assert again.status_code == 409, again.content
    assert again.json()["code"] == "erased"

"""Erasure scrubs the contact's email and external id from an export job's `attribute` filter (key:value
conditions). Found by a bug hunt: only whole strings and their words were checked."""

import pytest
from django.urls import reverse

from tests.gdpr.conftest import detail, table_hits
from tests.merges.conftest import create

EMAIL = "orsolya.fennimore@attr-filter.example"
EXTERNAL_ID = "crm-ORS-99177"


@pytest.mark.django_db
def test_erase_scrubs_the_contacts_email_from_an_export_attribute_filter(api):
    """Expected (docs/api.md, GDPR: erase): "the filters exports were asked with lose the contact's
    values" -- an export asked with `{"attribute": "work_email:<its email>"}` names the contact's
    email as much as `{"email": ...}` does, and "nothing about the contact remains".
    Actual: imports.gdpr.export_filters_erase -> contacts.gdpr.scrub_erased only tests the whole
    string and its whitespace-separated words; the attribute filter is `key:value` (comma-separated
    conditions), so "work_email:<email>" is never recognised and the email stays in
    imports_exportjob.filters (same for "crm_ref:<external id>")."""
    definitions = reverse("attribute-definition-list")
    for key in ("work_email", "crm_ref"):
        created = api.post(definitions, {"key": key, "label": key, "type": "string"}, format="json")
        assert created.status_code == 201, created.json()
    contact = create(
        api, email=EMAIL, external_id=EXTERNAL_ID, attributes={"work_email": EMAIL, "crm_ref": EXTERNAL_ID}
    )
    export = api.post(
        reverse("export-list"),
        {"filters": {"attribute": f"work_email:{EMAIL},crm_ref:{EXTERNAL_ID}"}},
        format="json",
    )
    assert export.status_code == 201, export.json()

    assert api.post(detail(contact["id"], "erase")).status_code == 200

    assert table_hits(EMAIL) == {}
    assert table_hits(EXTERNAL_ID) == {}

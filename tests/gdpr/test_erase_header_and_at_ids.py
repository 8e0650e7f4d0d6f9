"""An erasure leaves nothing of the contact in an import's header (a file uploaded without one) and
finds an external id holding an @ in segment rules and errors.csv (found by a GDPR hunt)."""

import pytest
from django.urls import reverse

from tests.gdpr.conftest import LISTS, detail, table_hits
from tests.imports.conftest import job_url, run, upload
from tests.merges.conftest import create

HEADER_EMAIL = "wilhelmina.quast@headerless.example"
AT_EXTERNAL_ID = "Acct@Legacy-Zq7"


def _erase(api, contact_id: str) -> None:
    response = api.post(detail(contact_id, "erase"))
    assert response.status_code == 200, response.content


@pytest.mark.django_db
def test_erase_renames_the_header_of_a_headerless_import_holding_the_contact(api):
    """A CSV uploaded without a header row: its first data row (the person's email and name) is the
    job's `header` and its mapping's keys. Erasing that person renames them "Column 1", "Column 2"
    (the mapping kept), so GET /imports/{id}/ shows nothing of them."""
    ann = create(api, email=HEADER_EMAIL, first_name="Wilhelmina")
    uploaded = upload(api, f"{HEADER_EMAIL},Wilhelmina\nbob.other@headerless.example,Bob\n")
    assert uploaded.status_code == 201, uploaded.content
    assert uploaded.json()["header"] == [HEADER_EMAIL, "Wilhelmina"]
    job = run(api, uploaded.json()["id"], mapping={HEADER_EMAIL: "email", "Wilhelmina": "first_name"})
    assert job["status"] == "completed", job

    _erase(api, ann["id"])

    shown = api.get(job_url(job["id"]))
    assert "wilhelmina" not in shown.content.decode().lower()
    assert shown.json()["header"] == ["Column 1", "Column 2"]
    assert shown.json()["mapping"] == {"Column 1": "email", "Column 2": "first_name"}
    assert table_hits("wilhelmina.quast") == {}


@pytest.mark.django_db
def test_erase_scrubs_an_external_id_holding_an_at_sign_from_segment_rules(api):
    """A contact whose external id holds an "@" (`Acct@Legacy-Zq7`: any string is one) and a segment
    `external_id eq Acct@Legacy-Zq7`: the rule's value becomes `[erased]` (a value with an @ was tested
    as an email only)."""
    contact = create(api, email="plain.zed@erase-at.example", external_id=AT_EXTERNAL_ID)
    segment = api.post(
        LISTS,
        {
            "name": "Legacy account",
            "kind": "dynamic",
            "rules": {
                "operator": "and",
                "rules": [{"field": "external_id", "op": "eq", "value": AT_EXTERNAL_ID}],
            },
        },
        format="json",
    )
    assert segment.status_code == 201, segment.content

    _erase(api, contact["id"])

    rules = api.get(reverse("list-detail", kwargs={"pk": segment.json()["id"]})).json()["rules"]
    assert rules["rules"][0]["value"] == "[erased]", rules
    assert table_hits("Legacy-Zq7") == {}


@pytest.mark.django_db
def test_erase_deletes_errors_csv_rows_holding_an_external_id_with_an_at_sign(api):
    """The same matcher cleans errors.csv: a failed import row holding the contact's external id
    `Acct@Legacy-Zq7` (failed for a bad email, so its reasons do not name the contact's id) goes."""
    contact = create(api, email="plain.zed@erase-at.example", external_id=AT_EXTERNAL_ID)
    uploaded = upload(api, f"email,external_id\nnot-an-email,{AT_EXTERNAL_ID}\n")
    assert uploaded.status_code == 201, uploaded.content
    job = run(api, uploaded.json()["id"])
    assert job["failed"] == 1, job

    _erase(api, contact["id"])

    errors_csv = b"".join(api.get(job_url(job["id"], "errors")).streaming_content).decode()
    assert AT_EXTERNAL_ID not in errors_csv

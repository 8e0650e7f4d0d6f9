"""Consent columns of imports: a signed number is not a yes; a purpose an import maps stays while it
runs."""

import pytest
from django.urls import reverse

import imports.services as import_services
from consent.models import ConsentPurpose, ConsentRecord
from tests.imports.conftest import run, upload


@pytest.mark.parametrize("cell", ["-1", "+1", "2"])
def test_import_consent_cell_outside_documented_words_fails_the_row(api, cell):
    """docs/api.md Imports: yes/no, true/false, 1/0, granted/revoked, subscribed/unsubscribed,
    opt-in/opt-out; 'pending and anything else fail the row'. '-1' must never become a grant."""
    job = run(api, upload(api, f"email,consent\nann@example.com,{cell}\n").json()["id"])
    assert job["failed"] == 1, job
    assert not ConsentRecord.objects.unscoped().filter(status="granted").exists()


def test_purpose_deleted_while_an_import_maps_it_gets_no_ledger_entries(api, tenant, monkeypatch):
    """A purpose deleted after the start of an import that maps it (no ledger entry yet, so the
    delete is allowed) must not end up in the ledger: the job fails as for a deleted attribute,
    or the delete is refused."""
    created = api.post(reverse("consent-purpose-list"), {"key": "promo", "label": "Promo"}, format="json")
    assert created.status_code == 201, created.json()
    purpose_id = created.json()["id"]
    monkeypatch.setattr(import_services, "BATCH_SIZE", 1)
    original = import_services._commit_batch
    calls = []

    def commit_then_delete(*args, **kwargs):
        result = original(*args, **kwargs)
        if not calls:
            calls.append(api.delete(reverse("consent-purpose-detail", kwargs={"pk": purpose_id})).status_code)
        return result

    monkeypatch.setattr(import_services, "_commit_batch", commit_then_delete)
    csv = "email,consent.email.promo\nann@example.com,\nbob@example.com,yes\n"
    job = run(api, upload(api, csv).json()["id"])
    purpose_exists = ConsentPurpose.objects.unscoped().filter(tenant=tenant, key="promo").exists()
    orphan = ConsentRecord.objects.unscoped().filter(tenant=tenant, purpose="promo").exists()
    assert purpose_exists or not orphan, (calls, job["status"], job["error"])

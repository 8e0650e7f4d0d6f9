"""Review of the SQLite (Python) duplicate pass now reading outside its write transaction: a full
recompute drops, as stale, pairs a concurrent check stored for contacts created after its read."""

import pytest

from contacts.models import DuplicateCandidate
from contacts.services import duplicates
from contacts_service.context import tenant_context
from tests.factories import ContactFactory


@pytest.mark.django_db
def test_full_python_recompute_keeps_pairs_stored_while_it_compared(tenant, monkeypatch):
    ContactFactory(tenant=tenant, phone="+33611111111", first_name="Ann", last_name="Lee", company="")
    ContactFactory(tenant=tenant, phone="+33611111111", first_name="Ann", last_name="Lee", company="")
    new = {}
    real = duplicates.trigram_similarity

    def meanwhile(a, b):
        # Another request creates two contacts and its check stores their pair, after this pass read
        # the tenant's contacts and before it stores (the window the change opened on SQLite).
        if not new:
            new["c"] = ContactFactory(tenant=tenant, phone="+33622222222", first_name="Bob", company="")
            new["d"] = ContactFactory(tenant=tenant, phone="+33622222222", first_name="Bob", company="")
            duplicates.duplicates_recompute(tenant=tenant, contact_ids=[new["c"].pk, new["d"].pk])
            assert _pair(tenant, new["c"], new["d"]).exists()
        return real(a, b)

    monkeypatch.setattr(duplicates, "trigram_similarity", meanwhile)
    with tenant_context(tenant):
        rules = duplicates.matching_rules_get(tenant=tenant)
        duplicates._recompute_python(tenant=tenant, rules=rules, ids=None)

    assert new, "the hook did not run"
    assert _pair(tenant, new["c"], new["d"]).exists(), "the concurrent check's pair was dropped as stale"


def _pair(tenant, c, d):
    a, b = sorted([str(c.pk), str(d.pk)])
    return DuplicateCandidate.objects.unscoped().filter(tenant=tenant, contact_a_id=a, contact_b_id=b)

"""The GDPR export holds the duplicate candidate pairs naming the contact (found by a bug hunt: they
were erased but never exported)."""

import pytest
from django.urls import reverse

from tests.gdpr.conftest import detail
from tests.merges.conftest import create


@pytest.mark.django_db
def test_gdpr_export_includes_the_duplicate_candidates_of_the_contact(
    api, django_capture_on_commit_callbacks
):
    """Expected (docs/api.md, GDPR: export): "one JSON document with everything held about a
    contact"; "every table that holds a contact id is registered with the section its rows go to
    ... The outbox is erased but not exported" (the outbox is the only stated exception).
    Actual: contacts.gdpr registers contacts.DuplicateCandidate (contact_a / contact_b) with key None
    (erase only), so the pair the service holds about the contact -- with whom it was matched, the
    matched keys, score, name similarity, dismissal -- is erased on erasure but never exported."""
    with django_capture_on_commit_callbacks(execute=True):
        ann = create(
            api, email="ann@dup-export.example", phone="+33612345670", first_name="Ann", last_name="Lee"
        )
        other = create(
            api, email="a.lee@dup-export.example", phone="+33612345670", first_name="Ann", last_name="Lee"
        )
    pairs = api.get(reverse("duplicate-list"), {"contact": ann["id"]}).json()
    assert pairs["count"] == 1, pairs  # the service holds a candidate pair about Ann

    document = api.get(detail(ann["id"], "export")).json()

    assert other["id"] in str(document), sorted(document)

"""Review of imports._claims_settled: a row failed in an earlier pass because of a claim by a row
that itself fails in a later pass stays failed, for a value nobody writes."""

import pytest

from contacts.models import Contact
from tests.imports.conftest import job_url, run, upload


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def test_a_row_failed_by_a_claim_of_a_row_that_fails_later_is_applied(api, tenant):
    """dedupe_key=phone. Pass 1: line 3 claims e@ and E1, line 6 fails on e@ (line 3), line 5 fails
    on h@ (line 4). Pass 2: line 2 (the earlier row of line 5's phone) claims E1 first, so line 3
    fails and writes nothing; line 6 still fails "line 3 has this email" although nobody writes e@."""
    content = (
        "phone,email,external_id\n"
        "+33611111111,,E1\n"  # line 2: earlier row of +336111...
        "+33622222222,e@example.com,E1\n"  # line 3
        "+33699999999,h@example.com,\n"  # line 4
        "+33611111111,h@example.com,\n"  # line 5: fails (line 4 has h@)
        "+33644444444,e@example.com,\n"  # line 6
    )
    response = upload(api, content)
    assert response.status_code == 201, response.json()
    job_id = response.json()["id"]
    job = run(api, job_id, dedupe_key="phone")
    errors = b"".join(api.get(job_url(job_id, "errors")).streaming_content).decode()

    assert Contact.objects.unscoped().filter(tenant=tenant, email="e@example.com").exists(), (job, errors)
    assert (job["created"], job["failed"]) == (3, 2), (job, errors)

"""The import job lifecycle at its edges (found by a bug hunt): line numbers of multi-line rows, bodies
that are not an object, number cells past int()'s digit limit, blank lines before the header, and the
advisory lock of one job not held by another."""

import csv
import io
import uuid

import pytest
from django.db import connection

from contacts.models import Contact
from imports import services
from imports.models import ImportJob
from tests.factories import AttributeDefinitionFactory
from tests.imports.conftest import IMPORTS, job_url, run, upload


def _errors_csv(api, job_id) -> list[list[str]]:
    body = b"".join(api.get(job_url(job_id, "errors")).streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


# -- errors.csv / preview line numbers -----------------------------------------------------------


def test_a_failed_row_with_a_multi_line_quoted_cell_is_reported_at_the_line_it_starts_on(api):
    """A failed row whose quoted cell spans lines 2-4 is reported at line 2, where it starts, in the preview
    and errors.csv (it was line 4, the row's last line); the next row is line 5."""
    content = 'email,notes\nnot-an-email,"first\nsecond\nthird"\nbad2,x\n'
    response = upload(api, content)
    assert response.status_code == 201, response.json()
    job_id = response.json()["id"]
    preview_lines = [row["line"] for row in response.json()["preview"]]
    job = run(api, job_id)
    assert job["failed"] == 2
    lines = [row[0] for row in _errors_csv(api, job_id)[1:]]
    assert (preview_lines, lines) == ([2, 5], ["2", "5"])


# -- upload: 500s on user input ---------------------------------------------------------------


@pytest.mark.parametrize("body", [[1, 2], "abc", 5])
def test_upload_with_a_json_body_that_is_not_an_object_is_a_400_not_a_500(api, body):
    """A JSON array, string or number posted to /imports/ is a 400 naming `file`, nothing created (it was
    a 500)."""
    api.raise_request_exception = False
    response = api.post(IMPORTS, body, format="json")
    assert response.status_code == 400, (response.status_code, response.content[:200])
    assert not ImportJob.objects.unscoped().exists()


def test_a_number_cell_of_more_than_4300_digits_in_the_preview_is_not_a_500(api, tenant):
    """A number cell of 5,000 digits is that row's error in the preview; the upload is a 201 (int() refused
    it with a ValueError: a 500, the draft left behind)."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    api.raise_request_exception = False
    response = upload(api, f"email,score\nann@example.com,{'1' * 5000}\nbob@example.com,3\n")
    assert response.status_code == 201, (response.status_code, response.content[:200])
    preview = response.json()["preview"]
    assert [row["action"] for row in preview] == ["error", "create"], preview


def test_a_number_cell_of_more_than_4300_digits_fails_its_row_not_the_whole_import(api, tenant):
    """The same cell past the preview fails its row; the other 26 are imported (the job failed whole)."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    content = (
        "email,score\n"
        + "".join(f"p{i}@example.com,1\n" for i in range(25))
        + f"ann@example.com,{'9' * 5000}\nbob@example.com,3\n"
    )
    response = upload(api, content)
    assert response.status_code == 201, response.json()
    job = run(api, response.json()["id"])
    assert (job["status"], job["created"], job["failed"]) == ("completed_with_errors", 26, 1), job
    assert Contact.objects.unscoped().filter(tenant=tenant).count() == 26


def test_blank_lines_before_the_header_do_not_make_the_file_empty(api):
    """The header is the first row that is not blank: a blank line before it is skipped as blank rows are
    (it was a 400 `empty_file`)."""
    response = upload(api, "\nemail,first_name\nann@example.com,Ann\n")
    assert response.status_code == 201, response.json()
    assert (response.json()["header"], response.json()["total_rows"]) == (["email", "first_name"], 1)


# -- two jobs, one advisory lock ----------------------------------------------------------------


def _other_connection():
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(
        **{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")},
        autocommit=True,
    )


def test_two_different_import_jobs_do_not_share_one_advisory_lock(api, tenant):
    """Only deliveries of one job exclude each other: a job whose id new_id() made right after another's
    in the same millisecond runs while that one holds its lock (the key was the id's first 8 bytes,
    which such ids share: the second job stayed queued until the stall check)."""
    a_id = upload(api, "email\na@example.com\n").json()["id"]
    b_id = upload(api, "email\nb@example.com\n").json()["id"]
    a = uuid.UUID(a_id)
    b = uuid.UUID(int=a.int + 1)  # the id new_id() makes next in the same millisecond
    ImportJob.objects.unscoped().filter(pk=b_id).update(id=b)
    assert api.post(job_url(b, "start")).status_code == 200
    other = _other_connection()
    try:
        with other.cursor() as cursor:  # job A is running in another worker
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [services._advisory_key(a)])
            assert cursor.fetchone()[0]
        outcome = services.import_process(b)
    finally:
        other.close()
    assert outcome == "completed", outcome
    assert ImportJob.objects.unscoped().get(pk=b).status == "completed"

"""Rows and files that once crashed the task (the job stayed running) or slipped past a check the
API makes: each is now a row error, a failed job with its reason, or imported as the API would."""

import csv
import io

import pytest
from django.db import OperationalError
from django.urls import reverse

from contacts.models import Contact
from imports import services
from imports.models import ImportJob, ImportRowError
from tags.models import Tag
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.imports.conftest import job_url, run, upload


def _job(response) -> ImportJob:
    return ImportJob.objects.unscoped().get(pk=response.json()["id"])


def _imported(api, content: str, **options) -> ImportJob:
    response = upload(api, content)
    assert response.status_code == 201, response.json()
    run(api, response.json()["id"], **options)
    return _job(response)


def _errors(job: ImportJob) -> dict[int, list[dict]]:
    return dict(ImportRowError.objects.unscoped().filter(job=job).values_list("line", "errors"))


def test_tag_names_are_cleaned_as_the_tags_api_cleans_them(api, tenant):
    job = _imported(api, "Email,Tags\nann@example.com,VIP  Gold ; lead\nbob@example.com,vip gold|Lead\n")
    assert (job.status, job.created_count, job.failed_count) == ("completed", 2, 0)
    assert sorted(Tag.objects.unscoped().filter(tenant=tenant).values_list("name", flat=True)) == [
        "VIP Gold",
        "lead",
    ]
    ann = Contact.objects.unscoped().get(tenant=tenant, email="ann@example.com")
    assert sorted(ann.tag_assignments.values_list("tag__name", flat=True)) == ["VIP Gold", "lead"]


def test_a_tag_cut_to_100_characters_loses_its_trailing_space(api, tenant):
    name = "a" * 99 + " b"  # cut after the space
    job = _imported(api, f"Email,Tags\nann@example.com,{name}\n")
    assert job.status == "completed"
    assert list(Tag.objects.unscoped().filter(tenant=tenant).values_list("name", flat=True)) == ["a" * 99]


def test_nul_past_the_upload_check_fails_its_row_only(api, tenant):
    """The upload looks for NUL in the first rows only; a NUL further down fails that row, which
    errors.csv gives back with U+FFFD in its place."""
    lines = ["Email,First Name,Notes"]
    lines += [f"user{i}@example.com,Name{i:060d},x" for i in range(1100)]
    lines[1051] = "bad@example.com,Na\x00me,no\x00te"
    response = upload(api, "\n".join(lines) + "\n")
    assert response.status_code == 201, response.json()
    run(api, response.json()["id"])
    job = _job(response)
    assert (job.status, job.created_count, job.failed_count) == ("completed_with_errors", 1099, 1)
    assert _errors(job) == {1052: [{"field": "first_name", "message": "Must not contain NUL characters."}]}
    body = b"".join(api.get(job_url(job.pk, "errors")).streaming_content).decode()
    assert "Na\ufffdme,no\ufffdte" in body


def test_an_email_longer_than_the_column_once_lower_cased_is_a_row_error(api, tenant):
    email = "a" * 230 + "@" + "İ" * 10 + ".com"  # 245 characters; "İ".lower() is two
    job = _imported(api, f"Email,First Name\n{email},Ann\nbob@example.com,Bob\n")
    assert (job.status, job.created_count, job.failed_count) == ("completed_with_errors", 1, 1)
    assert _errors(job) == {2: [{"field": "email", "message": "At most 254 characters."}]}


def test_the_api_refuses_that_email_too(api, tenant):
    email = "a" * 230 + "@" + "İ" * 10 + ".com"
    response = api.post(reverse("contact-list"), {"email": email}, format="json")
    assert response.status_code == 400, response.content
    assert "email" in str(response.json())
    assert not Contact.objects.unscoped().filter(tenant=tenant).exists()


def test_an_attribute_deleted_after_the_start_fails_the_job_with_its_reason(api, tenant):
    score = AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    response = upload(api, "Email,Score\nann@example.com,10\n")
    assert response.json()["mapping"]["Score"] == "attributes.score"
    assert api.post(job_url(response.json()["id"], "start")).status_code == 200
    deleted = api.delete(reverse("attribute-definition-detail", kwargs={"pk": score.pk}))
    assert deleted.status_code == 204, deleted.content
    services.import_process(response.json()["id"])
    job = _job(response)
    assert job.status == "failed"
    assert job.error.startswith("The mapping is no longer valid: mapping.Score:"), job.error
    assert not Contact.objects.unscoped().filter(tenant=tenant).exists()


def test_required_attributes_are_needed_to_create_not_to_update(api, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="plan", type="string", required=True)
    ContactFactory(tenant=tenant, email="old@example.com")  # from before the attribute
    job = _imported(api, "Email,Plan\nann@example.com,pro\nbob@example.com,\nold@example.com,\n")
    assert (job.created_count, job.updated_count, job.unchanged_count, job.failed_count) == (1, 0, 1, 1)
    assert _errors(job) == {
        3: [{"field": "attributes.plan", "message": "This attribute is required to create a contact."}]
    }
    assert not Contact.objects.unscoped().filter(tenant=tenant, email="bob@example.com").exists()


@pytest.mark.parametrize(
    ("definition", "cell", "message"),
    [
        (
            {"type": "number"},
            str(2**60),
            "A whole number must be between -2^53 and 2^53, or one a double holds as written (1e+20).",
        ),
        ({"type": "number"}, "1e400", "Must be a finite number."),
        ({"type": "number"}, "ten", "'ten' is not a number."),
        ({"type": "date"}, "2024-02-30", "Must be a date as YYYY-MM-DD."),
        ({"type": "choice", "choices": ["free", "pro"]}, "gold", "Must be one of: free, pro."),
        ({"type": "string"}, "x" * 2001, "At most 2000 characters."),
    ],
)
def test_attribute_values_are_checked_as_the_api_checks_them(api, tenant, definition, cell, message):
    AttributeDefinitionFactory(tenant=tenant, key="score", **definition)
    job = _imported(api, f"Email,Score\nann@example.com,{cell}\ncat@example.com,\n")
    assert (job.created_count, job.failed_count) == (1, 1)
    assert _errors(job) == {2: [{"field": "attributes.score", "message": message}]}


def test_typed_attribute_cells_are_read_as_their_type(api, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="vip", type="boolean")
    AttributeDefinitionFactory(tenant=tenant, key="since", type="date")
    job = _imported(api, 'Email,Score,VIP,Since\nann@example.com,"2,5",yes,2024-02-29T10:00:00Z\n')
    assert job.status == "completed", _errors(job)
    ann = Contact.objects.unscoped().get(tenant=tenant, email="ann@example.com")
    assert ann.attributes == {"score": 2.5, "vip": True, "since": "2024-02-29"}


def test_header_names_made_unique_never_clash_with_a_name_in_the_file(api, tenant):
    response = upload(api, "Email,Phone (2),Phone,Phone\nann@example.com,a,+33612345678,b\n")
    assert response.status_code == 201, response.json()
    assert response.json()["header"] == ["Email", "Phone (2)", "Phone", "Phone (3)"]


def test_errors_csv_neutralises_the_header_too(api, tenant):
    job = _imported(api, 'Email,"=HYPERLINK(""http://evil"")"\nnot-an-email,x\n')
    body = b"".join(api.get(job_url(job.pk, "errors")).streaming_content).decode()
    header, row = list(csv.reader(io.StringIO(body)))
    assert header == ["line", "errors", "Email", '\'=HYPERLINK("http://evil")']
    assert row == ["2", "email: Enter a valid email address.", "not-an-email", "x"]


def test_an_unexpected_error_in_a_batch_fails_the_job_after_the_committed_batches(api, tenant, monkeypatch):
    lines = ["Email"] + [f"user{i}@example.com" for i in range(services.BATCH_SIZE + 10)]
    response = upload(api, "\n".join(lines) + "\n")
    assert api.post(job_url(response.json()["id"], "start")).status_code == 200
    apply_batch, calls = services.apply_batch, []

    def second_batch_breaks(job, plan, actor):
        calls.append(len(plan.rows))
        if len(calls) == 2:
            raise RuntimeError("boom")
        return apply_batch(job, plan, actor)

    monkeypatch.setattr(services, "apply_batch", second_batch_breaks)
    assert services.import_process(response.json()["id"]) == "failed"
    job = _job(response)
    assert (job.status, job.checkpoint_row, job.created_count) == (
        "failed",
        services.BATCH_SIZE,
        services.BATCH_SIZE,
    )
    assert job.error == (
        f"Stopped by an internal error (RuntimeError) in the batch after row {services.BATCH_SIZE}; the rows "
        f"before it are imported. Operators find the reason in the worker log (correlation id "
        f"{job.correlation_id or '-'})."
    )
    assert job.finished_at is not None
    assert Contact.objects.unscoped().filter(tenant=tenant).count() == services.BATCH_SIZE


def test_a_lost_database_leaves_the_job_running_to_resume(api, tenant, monkeypatch):
    response = upload(api, "Email\nann@example.com\n")
    assert api.post(job_url(response.json()["id"], "start")).status_code == 200

    def connection_lost(job, plan, actor):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services, "apply_batch", connection_lost)
    with pytest.raises(OperationalError):
        services.import_process(response.json()["id"])
    assert _job(response).status == "running"  # the redelivered task or the stall check resumes it
    monkeypatch.undo()
    assert services.import_process(response.json()["id"]) == "completed"
    assert Contact.objects.unscoped().filter(tenant=tenant, email="ann@example.com").exists()

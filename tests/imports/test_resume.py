"""A crashed import resumes after its last committed batch; cancel stops after the current batch;
a job whose worker died is queued again by the beat task."""

import csv
import datetime as dt

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from contacts.models import Contact
from events.models import OutboxEvent
from imports import services
from imports.models import ImportJob, ImportRowError
from tests.imports.conftest import job_url, upload

ROWS = 1234  # three batches of 500 and a tail


@pytest.fixture
def big_job(api):
    content = "email,first_name\n" + "".join(f"p{i}@example.com,P{i}\n" for i in range(ROWS))
    job_id = upload(api, content).json()["id"]
    assert api.post(job_url(job_id, "start")).status_code == 200
    return job_id


class Crash(BaseException):  # as a SIGKILL: no `except Exception` of the job sees it
    pass


def test_a_crash_mid_import_resumes_without_importing_a_row_twice(api, big_job, monkeypatch):
    real_apply, calls = services.apply_batch, {"n": 0}

    def apply_then_crash(job, plan, actor):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash("worker killed")  # the third batch's transaction rolls back
        return real_apply(job, plan, actor)

    monkeypatch.setattr(services, "apply_batch", apply_then_crash)
    with pytest.raises(Crash):
        services.import_process(big_job)
    job = ImportJob.objects.unscoped().get(pk=big_job)
    assert (job.status, job.checkpoint_row, job.created_count) == ("running", 1000, 1000)
    assert Contact.objects.unscoped().count() == 1000

    monkeypatch.setattr(services, "apply_batch", real_apply)
    services.import_process(big_job)  # the redelivered task
    done = api.get(job_url(big_job)).json()
    assert (done["status"], done["processed_rows"], done["created"], done["updated"]) == (
        "completed",
        ROWS,
        ROWS,
        0,
    )
    assert Contact.objects.unscoped().count() == ROWS
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.created").count() == ROWS
    assert OutboxEvent.objects.unscoped().filter(event_type="import.completed").count() == 1


def test_cancel_stops_after_the_current_batch(api, big_job, monkeypatch):
    real_apply = services.apply_batch

    def apply_and_cancel(job, plan, actor):
        result = real_apply(job, plan, actor)
        ImportJob.objects.unscoped().filter(pk=job.pk).update(cancel_requested=True)
        return result

    monkeypatch.setattr(services, "apply_batch", apply_and_cancel)
    assert services.import_process(big_job) == "cancelled"
    job = api.get(job_url(big_job)).json()
    assert (job["status"], job["processed_rows"], job["created"]) == ("cancelled", 500, 500)
    assert Contact.objects.unscoped().count() == 500
    assert api.post(job_url(big_job, "cancel")).status_code == 409


def test_cancel_before_it_runs(api, big_job):
    assert api.post(job_url(big_job, "cancel")).json()["status"] == "cancelled"
    assert services.import_process(big_job) == "nothing to do"
    assert Contact.objects.unscoped().count() == 0


def test_a_job_whose_heartbeat_stopped_is_queued_again(api, big_job, django_capture_on_commit_callbacks):
    stale = timezone.now() - dt.timedelta(hours=1)
    ImportJob.objects.unscoped().filter(pk=big_job).update(status="running", heartbeat_at=stale)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.imports_requeue_stalled() == 1
    job = ImportJob.objects.unscoped().get(pk=big_job)
    assert (job.status, job.created_count) == ("completed", ROWS)
    assert services.imports_requeue_stalled() == 0


def test_start_queues_the_task_after_commit(api, django_capture_on_commit_callbacks):
    job_id = upload(api, "email\nann@example.com\n").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.post(job_url(job_id, "start")).status_code == 200
    assert api.get(job_url(job_id)).json()["status"] == "completed"
    assert api.post(job_url(job_id, "start")).status_code == 409
    assert api.patch(job_url(job_id), {"on_match": "skip"}, format="json").status_code == 409


def test_a_file_that_breaks_mid_way_keeps_the_batches_read_before_it(api, big_job, monkeypatch):
    """The next batch is read (and parsed) while the current one is written: a read error in batch 3
    still commits batches 1 and 2 first, then fails the job with the reason."""
    real_rows = services._rows

    def rows_then_break(job):
        for index, item in enumerate(real_rows(job)):
            if index == 1100:
                raise csv.Error("unexpected end of data")
            yield item

    monkeypatch.setattr(services, "_rows", rows_then_break)
    assert services.import_process(big_job) == "failed"
    job = ImportJob.objects.unscoped().get(pk=big_job)
    assert (job.checkpoint_row, job.created_count) == (1000, 1000)
    assert "could not be read" in job.error and "unexpected end of data" in job.error
    assert Contact.objects.unscoped().count() == 1000


def test_a_batch_planned_again_after_a_conflict_is_planned_from_its_rows_as_read(api, monkeypatch):
    """A batch whose write hits a unique constraint (a contact created meanwhile through the API) is
    rolled back and planned again from its rows as read (the read-ahead parsed them once): what the
    first plan marked on a row (a conflict with a row or contact) does not carry over."""
    content = "email,external_id\n" + "".join(f"p{i}@example.com,E-{i}\n" for i in range(601))
    job_id = upload(api, content).json()["id"]
    assert api.post(job_url(job_id, "start")).status_code == 200
    real_apply, calls = services.apply_batch, {"n": 0}

    def conflict_once(job, plan, actor):
        calls["n"] += 1
        if calls["n"] == 1:
            plan.rows[0].row.error("external_id", "Another contact has this external_id.")  # as a plan marks
            raise IntegrityError("duplicate key value violates unique constraint")
        return real_apply(job, plan, actor)

    monkeypatch.setattr(services, "apply_batch", conflict_once)
    services.import_process(job_id)
    done = api.get(job_url(job_id)).json()
    assert (done["status"], done["created"], done["failed"]) == ("completed", 601, 0)
    assert calls["n"] == 3  # the first batch twice, then the second
    assert not ImportRowError.objects.unscoped().filter(job_id=job_id).exists()


def tenant_rows_estimate(tenant_id) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT 1 FROM contacts_contact WHERE tenant_id = %s", [tenant_id]
        )
        return cursor.fetchone()[0][0]["Plan"]["Plan Rows"]


def analyze_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'contacts_contact'")
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("threshold", "queued_at"), [(600, [500, ROWS]), (1000, [500]), (1200, [1000]), (5000, []), (0, [])]
)
def test_a_large_import_queues_analyze_early_and_at_the_end_so_the_planner_knows_the_tenant_s_size(
    api, big_job, settings, monkeypatch, django_capture_on_commit_callbacks, threshold, queued_at
):
    """Queued once the job has created `threshold` contacts (in the batch that crosses it, whose
    checkpoint is the previous batch's), and at its end if it created twice as many."""
    settings.IMPORT_ANALYZE_MIN_ROWS = threshold
    queued, real_later = [], services.contacts_analyze_later

    def later():
        queued.append(ImportJob.objects.unscoped().get(pk=big_job).checkpoint_row)
        real_later()

    monkeypatch.setattr(services, "contacts_analyze_later", later)
    with connection.cursor() as cursor:  # no autovacuum ANALYZE in between (rolled back with the test)
        cursor.execute("ALTER TABLE contacts_contact SET (autovacuum_enabled = false)")
    before = analyze_count()
    with django_capture_on_commit_callbacks(execute=True):  # the tasks, run in-process
        services.import_process(big_job)
    job = ImportJob.objects.unscoped().get(pk=big_job)
    assert (job.status, job.created_count) == ("completed", ROWS)
    assert queued == queued_at
    assert analyze_count() - before == len(queued_at)
    estimate = tenant_rows_estimate(job.tenant_id)
    assert (estimate > ROWS * 0.8) is bool(queued_at), estimate

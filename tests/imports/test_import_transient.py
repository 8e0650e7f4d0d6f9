"""Transient failures inside an import (imports.services.TRANSIENT_ERRORS): the task raises and the job
stays `running`, for the redelivered task or beat's imports_requeue_stalled to resume after its
checkpoint; only other errors fail the job."""

from unittest import mock

import pytest
from django.core.files.storage import default_storage
from django.db import IntegrityError

from imports import services
from imports.models import ImportJob
from tests.imports.conftest import job_url, media, upload  # noqa: F401


def _start(api, content):
    job = upload(api, content).json()
    assert api.patch(job_url(job["id"]), {"mapping": {"email": "email"}}, format="json").status_code == 200
    assert api.post(job_url(job["id"], "start")).status_code == 200
    return job["id"]


@pytest.mark.django_db
def test_integrity_error_race_twice_is_not_a_failed_job(api):
    job_id = _start(api, "email\nann@example.com\n")
    real = services.apply_batch
    calls = {"n": 0}

    def racing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:  # a concurrent API create wins the race on both attempts
            raise IntegrityError('duplicate key value violates unique constraint "contact_email_unique"')
        return real(*args, **kwargs)

    with mock.patch.object(services, "apply_batch", racing), pytest.raises(IntegrityError):
        services.import_process(job_id)  # the task fails; the job stays running, to be resumed
    job = ImportJob.objects.unscoped().get(pk=job_id)
    assert job.status == "running", job.error
    services.import_process(job_id)  # the resume (beat's requeue)
    assert ImportJob.objects.unscoped().get(pk=job_id).status == "completed"


@pytest.mark.django_db
def test_storage_oserror_is_not_a_failed_job(api):
    job_id = _start(api, "email\nann@example.com\n")
    broken = mock.patch("imports.csvio.open_binary", side_effect=OSError(5, "Input/output error"))
    with broken, pytest.raises(OSError):
        services.import_process(job_id)
    job = ImportJob.objects.unscoped().get(pk=job_id)
    assert job.status == "running", job.error


@pytest.mark.django_db
def test_an_upload_missing_from_the_workers_storage_fails_the_job_with_that_reason(api):
    job_id = _start(api, "email\nann@example.com\n")
    job = ImportJob.objects.unscoped().get(pk=job_id)
    default_storage.delete(job.file)  # a worker that does not share the web's MEDIA_ROOT
    assert services.import_process(job_id) == "failed"
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error.startswith("The uploaded file is missing from the storage the worker reads"), job.error


@pytest.mark.django_db
def test_a_file_not_found_elsewhere_leaves_the_job_running(api):
    job_id = _start(api, "email\nann@example.com\n")
    broken = mock.patch.object(services, "apply_batch", side_effect=FileNotFoundError(2, "metrics file"))
    with broken, pytest.raises(FileNotFoundError):
        services.import_process(job_id)
    assert ImportJob.objects.unscoped().get(pk=job_id).status == "running"

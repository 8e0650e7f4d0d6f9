"""The embedded default (./scripts/run: SQLite, Celery tasks in-process, no worker, no beat): an
import interrupted by an error imports.services treats as transient (OperationalError "database is
locked" after SQLite's 20 s wait, a server stopped with Ctrl-C mid-import) is left `running` for
good. import_process re-raises TRANSIENT_ERRORS for a redelivery or the beat task
imports_requeue_stalled, neither of which exists without a broker; the start request answers 500,
POST start is a 409 `started`, and POST cancel only sets cancel_requested (nobody reads it)."""

from tests.embedded.test_sqlite_default import run_embedded
from tests.embedded.test_sqlite_parity import PRELUDE

INTERRUPTED = (
    PRELUDE
    + r"""
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError
from imports import services as import_services

data = b"email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n"
upload = api.post("/api/v1/imports/", {"file": SimpleUploadedFile("c.csv", data, content_type="text/csv")},
                  format="multipart")
job_id = upload.json()["id"]

real_commit_batch, calls = import_services._commit_batch, []

def commit_batch_once_locked(*args, **kwargs):
    calls.append(1)
    if len(calls) == 1:  # what SQLite raises when the write lock was not free within 20 s
        raise OperationalError("database is locked")
    return real_commit_batch(*args, **kwargs)

import_services._commit_batch = commit_batch_once_locked
out["start"] = api.post(f"/api/v1/imports/{job_id}/start/").status_code
import_services._commit_batch = real_commit_batch
out["after start"] = api.get(f"/api/v1/imports/{job_id}/").json()["status"]
out["start again"] = api.post(f"/api/v1/imports/{job_id}/start/").status_code
out["cancel"] = api.post(f"/api/v1/imports/{job_id}/cancel/").status_code
out["after cancel"] = api.get(f"/api/v1/imports/{job_id}/").json()["status"]
print("RESULT " + json.dumps(out))
"""
)


def test_an_interrupted_import_is_not_left_running_forever_in_the_embedded_default(tmp_path):
    out = run_embedded(tmp_path, INTERRUPTED)
    # Nothing runs the job any more once the in-process task has returned: it must end (failed with
    # its reason, or retried in-process and completed), or at least be cancellable.
    assert out["after start"] != "running", out
    assert out["after cancel"] in ("cancelled", "failed", "completed", "completed_with_errors"), out
    assert out["start"] != 500, out


# The server stopped (Ctrl-C) in the middle of an import and started again later: the job is
# `running` with an old heartbeat, and nothing in the embedded default ever picks it up again.
STOPPED_MID_IMPORT = (
    PRELUDE
    + r"""
import datetime as dt
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from imports.models import ImportJob

data = b"email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n"
upload = api.post("/api/v1/imports/", {"file": SimpleUploadedFile("c.csv", data, content_type="text/csv")},
                  format="multipart")
job_id = upload.json()["id"]
long_ago = timezone.now() - dt.timedelta(hours=1)
ImportJob.objects.unscoped().filter(pk=job_id).update(
    status="running", queued_at=long_ago, started_at=long_ago, heartbeat_at=long_ago
)
out["start"] = api.post(f"/api/v1/imports/{job_id}/start/").status_code
out["cancel"] = api.post(f"/api/v1/imports/{job_id}/cancel/").status_code
out["after cancel"] = api.get(f"/api/v1/imports/{job_id}/").json()["status"]
print("RESULT " + json.dumps(out))
"""
)


def test_an_import_left_running_by_a_stopped_server_can_be_ended_in_the_embedded_default(tmp_path):
    out = run_embedded(tmp_path, STOPPED_MID_IMPORT)
    assert out["after cancel"] in ("cancelled", "completed", "completed_with_errors", "failed"), out

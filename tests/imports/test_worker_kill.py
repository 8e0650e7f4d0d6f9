"""A real Celery worker (Redis broker) killed with SIGKILL in the middle of an import.

The worker runs as its own process tree on the test database: the prefork child running the task
is SIGKILLed after some batches have committed; the parent sees the worker lost, rejects the
message (acks_late + reject_on_worker_lost) and the broker hands it to a new child, which resumes
after the checkpoint. Then the whole worker is SIGKILLed (no parent left to reject): a new worker
and the beat task that re-queues stalled jobs finish the import. Each time: no row imported twice,
counts exact.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import redis
from celery import Celery
from django.conf import settings
from django.db import connection

from contacts.models import Contact
from events.models import OutboxEvent
from imports.models import ImportJob, ImportStatus
from imports.services import import_start, imports_requeue_stalled
from imports.tasks import import_run
from tests.imports.conftest import job_url, upload

pytestmark = pytest.mark.django_db(transaction=True)
ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("TEST_CELERY_BROKER_URL", "redis://127.0.0.1:6379/14")
ROWS = 6000


def _csv() -> str:
    lines = ["email,first_name,city"]
    lines += [f"user{n}@kill.test,User{n},City {n % 50}" for n in range(ROWS)]
    lines += [f"user{n}@kill.test,Again{n},City" for n in range(0, ROWS, 1000)]  # updates across batches
    return "\n".join(lines) + "\n"


def _worker(media: Path) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contacts_service.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": BROKER,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "MEDIA_ROOT": str(media),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "contacts_service", "worker", "--pool=prefork",
         "--concurrency=1", "--without-heartbeat", "--without-mingle", "--without-gossip", "-l", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _wait(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _job(job_id) -> ImportJob:
    return ImportJob.objects.unscoped().get(pk=job_id)


def _kill(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@pytest.fixture
def broker():
    client = redis.Redis.from_url(BROKER)
    client.flushdb()
    yield Celery(broker=BROKER, set_as_current=False)  # shared tasks stay on the project's app
    client.flushdb()


def test_a_killed_worker_resumes_after_its_checkpoint(api, tenant, media, broker, settings):
    job_id = upload(api, _csv()).json()["id"]
    assert api.patch(job_url(job_id), {"tags": ["Killed"]}, format="json").status_code == 200
    # The test process runs tasks eagerly; here the service's enqueue goes to the real broker instead.
    to_broker = mock.patch.object(
        import_run, "delay", lambda job_id: broker.send_task("imports.tasks.import_run", args=[str(job_id)])
    )
    with to_broker:
        import_start(tenant=tenant, job_id=job_id)

    worker = _worker(media)
    try:
        # 1. Kill the pool child running the task once two batches have committed.
        _wait(lambda: _job(job_id).checkpoint_row >= 1000, 180, "two batches")
        [child] = _wait(lambda: _children(worker.pid), 5, "the pool child")
        os.kill(child, signal.SIGKILL)
        killed_at = _job(job_id).checkpoint_row
        assert killed_at < ROWS, "the import finished before the kill: make it longer"

        # The parent rejects the message; a new child resumes after the checkpoint.
        _wait(lambda: _job(job_id).checkpoint_row > killed_at, 180, "the redelivered task")
        # 2. Kill the whole worker: the message stays unacknowledged in Redis.
        _wait(lambda: _job(job_id).checkpoint_row >= killed_at + 1000, 180, "progress")
        _kill(worker)
        stopped_at = _job(job_id)
        assert stopped_at.status == ImportStatus.RUNNING and stopped_at.checkpoint_row < ROWS
    finally:
        _kill(worker)

    # 3. The beat task re-queues a job whose heartbeat stopped; a new worker finishes it.
    settings.IMPORT_STALL_SECONDS = 0
    time.sleep(0.05)
    with to_broker:
        assert imports_requeue_stalled() == 1
    worker = _worker(media)
    try:
        _wait(lambda: _job(job_id).status == ImportStatus.COMPLETED, 300, "the import to complete")
    finally:
        _kill(worker)

    job = api.get(job_url(job_id)).json()
    assert (job["processed_rows"], job["created"], job["updated"], job["failed"]) == (ROWS + 6, ROWS, 6, 0)
    contacts = Contact.objects.unscoped().filter(tenant=tenant)
    assert contacts.count() == ROWS
    assert contacts.filter(first_name__startswith="Again").count() == 6
    events = OutboxEvent.objects.unscoped().filter(tenant=tenant)
    assert events.filter(event_type="contact.created").count() == ROWS
    assert events.filter(event_type="contact.tagged").count() == ROWS
    assert events.filter(event_type="contact.updated").count() == 6
    assert events.filter(event_type="import.completed").count() == 1

"""The Celery broker unreachable (Redis down) when a request queues a task after its commit: the
request answers as usual (it was a 500 after the change had committed). Segment upkeep then runs in the
request; an import or export stays queued for the stall check to queue again."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

from contacts_service.celery import app
from imports.models import ExportJob, ImportJob
from tests.imports.conftest import job_url, upload
from tests.lists.segment_helpers import is_member, rule, segment


@pytest.fixture
def broker_down(caplog):
    """Tasks go to a broker nobody listens on (publishing them raises after Celery's retries)."""
    saved = app.conf.task_always_eager, app.conf.broker_url
    app.conf.task_always_eager, app.conf.broker_url = False, "redis://127.0.0.1:1/0"
    app._pool, app.amqp._producer_pool = None, None
    caplog.set_level(logging.WARNING, logger="contacts_service.queueing")
    yield caplog
    app.conf.task_always_eager, app.conf.broker_url = saved
    app._pool, app.amqp._producer_pool = None, None


def unqueued(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "Celery broker unreachable" in r.getMessage()]


@pytest.mark.django_db
def test_a_contact_joins_its_segment_in_the_request_when_the_upkeep_task_cannot_be_queued(
    api, settings, broker_down, django_capture_on_commit_callbacks
):
    settings.SEGMENTS_INLINE_LIMIT = 0  # every segment upkeep goes through a task
    french = segment(api, "French", rule("country", "eq", "FR"))

    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            reverse("contact-list"), {"email": "ann@example.com", "country": "FR"}, format="json"
        )

    assert created.status_code == 201, created.content
    assert is_member(created.json()["id"], french["id"])
    assert any(
        "segments_refresh_contact_task" in m and "run in this process" in m for m in unqueued(broker_down)
    )


@pytest.mark.django_db
def test_an_export_and_an_import_stay_queued_when_their_task_cannot_be_queued(
    api, broker_down, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        export = api.post(reverse("export-list"), {}, format="json")
    assert export.status_code == 201, export.content
    assert ExportJob.objects.unscoped().get(pk=export.json()["id"]).status == "queued"

    job_id = upload(api, "email\nann@example.com\n").json()["id"]
    with django_capture_on_commit_callbacks(execute=True):
        started = api.post(job_url(job_id, "start"))
    assert started.status_code == 200, started.content
    assert ImportJob.objects.unscoped().get(pk=job_id).status == "queued"
    assert len(unqueued(broker_down)) == 2

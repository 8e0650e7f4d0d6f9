"""JSON logs and /metrics as an operator sees them: the lines the configured JSON formatter writes and
the Prometheus text a scrape returns, after real requests, an import, a relay publish and a worker."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import logging.config
import os
import subprocess
import sys
import time
import uuid

import psycopg
import pytest
import redis
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from contacts_service.context import (
    SYSTEM_ACTOR,
    Actor,
    RequestContextLogFilter,
    request_scope,
    set_current_actor,
    set_current_tenant,
)
from events.models import OutboxEvent
from events.relay import OutboxRelay

CSV = "Email,First Name\nann@example.com,Ann\nbob@example.com,Bob\ncat@example.com,Cat\n"


class JsonLines:
    """Log records written through the JSON formatter of settings.LOGGING, parsed back."""

    def __init__(self, buffer: io.StringIO):
        self.buffer = buffer

    def all(self) -> list[dict]:
        return [json.loads(line) for line in self.buffer.getvalue().splitlines() if line.strip()]

    def where(self, **fields) -> list[dict]:
        return [line for line in self.all() if all(line.get(k) == v for k, v in fields.items())]


@pytest.fixture
def json_logs():
    buffer = io.StringIO()
    config = dict(django_settings.LOGGING["formatters"]["json"])
    formatter = logging.config.DictConfigurator({}).configure_custom(config)
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter)
    handler.addFilter(RequestContextLogFilter())
    root = logging.getLogger()
    relay_logger = logging.getLogger("events.relay")
    previous = root.level, relay_logger.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    relay_logger.setLevel(logging.DEBUG)  # one line per published event
    yield JsonLines(buffer)
    root.removeHandler(handler)
    root.setLevel(previous[0])
    relay_logger.setLevel(previous[1])


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)


def _import(api, cid: str) -> dict:
    """Upload, then start: the start request runs the import task (eagerly, after its commit)."""
    upload = SimpleUploadedFile("people.csv", CSV.encode(), content_type="text/csv")
    job = api.post(reverse("import-list"), {"file": upload}, format="multipart", HTTP_X_CORRELATION_ID=cid)
    assert job.status_code == 201, job.json()
    started = api.post(reverse("import-start", kwargs={"pk": job.json()["id"]}), HTTP_X_CORRELATION_ID=cid)
    assert started.status_code == 200, started.json()
    done = api.get(reverse("import-detail", kwargs={"pk": job.json()["id"]})).json()
    assert (done["status"], done["created"]) == ("completed", 3)
    return done


def _drain() -> int:
    relay = OutboxRelay()
    try:
        return relay.drain()
    finally:
        relay.publisher.close()


def scrape(**headers) -> str:
    response = Client().get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return response.content.decode()


def value(text: str, name: str, **labels) -> float:
    """The sample `name{labels}` of a scrape (0 when absent: a counter not incremented yet)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


# -- logs -------------------------------------------------------------------------------------------


def test_each_api_request_writes_one_json_access_line_with_its_context(api, tenant, json_logs):
    response = api.get(reverse("contact-list"), HTTP_X_CORRELATION_ID="req-0001")
    assert response.status_code == 200

    [line] = json_logs.where(logger="contacts_service.access")
    assert line["message"] == "GET /api/v1/contacts/ 200"
    assert line["level"] == "INFO"
    assert line["timestamp"].startswith(time.strftime("%Y-%m-%dT", time.gmtime()))
    assert (line["method"], line["path"], line["view"], line["status"]) == (
        "GET", "/api/v1/contacts/", "contact-list", 200,
    )  # fmt: skip
    assert "contacts" in line["route"]
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["correlation_id"] == "req-0001" == response["X-Correlation-ID"]
    assert line["tenant_id"] == str(tenant.pk)
    assert line["actor"] == f"api_key:{api.api_key.pk}"


def test_a_refused_or_unknown_request_is_logged_without_tenant_or_actor(anon, json_logs):
    assert anon.get(reverse("contact-list")).status_code == 401
    assert anon.get("/no/such/page/").status_code == 404

    refused, unknown = json_logs.where(logger="contacts_service.access")
    assert (refused["view"], refused["status"], refused["tenant_id"], refused["actor"]) == (
        "contact-list", 401, "-", "-",
    )  # fmt: skip
    assert (unknown["view"], unknown["status"], unknown["route"]) == ("unmatched", 404, "")
    assert refused["correlation_id"] != unknown["correlation_id"]  # a new id per request


def test_a_hostile_path_or_method_can_neither_forge_a_log_line_nor_add_a_metrics_series(db, anon, json_logs):
    forged = "/x%0A2026-01-01 00:00:00,000 INFO contacts_service.access [cid=admin] GET /"
    assert anon.get(forged).status_code == 404
    for n in range(3):
        assert anon.generic(f"ZZ{n:04d}", "/nope/").status_code in (404, 405)
    lines = json_logs.where(logger="contacts_service.access")
    assert "\n" not in lines[0]["message"] and "\n" not in lines[0]["path"]
    assert lines[0]["path"].startswith("/x%0A2026-01-01")
    assert [line["method"] for line in lines[1:]] == ["other"] * 3
    text = scrape()
    assert value(text, "contacts_http_requests_total", view="unmatched", method="ZZ0000", status="404") == 0
    assert value(text, "contacts_http_requests_total", view="unmatched", method="other", status="404") >= 3


@pytest.mark.django_db(transaction=True)
def test_one_correlation_id_follows_a_request_into_its_import_task_batches_and_published_events(
    api, tenant, broker, media, json_logs
):
    job = _import(api, cid="req-import-42")
    actor = f"api_key:{api.api_key.pk}"

    # The task the start request queued (run eagerly here) logs under the request's context.
    [task_line] = json_logs.where(logger="contacts_service.tasks", task="imports.tasks.import_run")
    assert task_line["state"] == "SUCCESS" and task_line["duration_ms"] > 0
    assert (task_line["correlation_id"], task_line["tenant_id"], task_line["actor"]) == (
        "req-import-42", str(tenant.pk), actor,
    )  # fmt: skip
    [batch] = json_logs.where(logger="imports.services", import_id=job["id"], rows=3)
    assert batch["correlation_id"] == "req-import-42" and batch["tenant_id"] == str(tenant.pk)
    assert batch["outcomes"]["create"] == 3 and batch["duration_ms"] > 0
    export = api.post(reverse("export-list"), {}, format="json", HTTP_X_CORRELATION_ID="req-export-9")
    assert export.status_code == 201, export.json()
    [export_line] = json_logs.where(logger="contacts_service.tasks", task="imports.tasks.export_run")
    assert (export_line["state"], export_line["correlation_id"], export_line["tenant_id"]) == (
        "SUCCESS", "req-export-9", str(tenant.pk),
    )  # fmt: skip

    # The relay names that correlation id on the line of the batch that published its events.
    other = api.post(reverse("contact-list"), {"email": "dan@example.com"}, format="json",
                     HTTP_X_CORRELATION_ID="req-other")  # fmt: skip
    assert other.status_code == 201
    events = OutboxEvent.objects.unscoped().filter(tenant=tenant)
    import_events = [e for e in events if e.payload["correlation_id"] == "req-import-42"]
    assert len(import_events) == 4  # 3 contact.created + import.completed
    assert _drain() == events.count() == 5

    [published] = json_logs.where(logger="events.relay", level="INFO")
    assert published["published"] == 5 and published["nacked"] == published["unconfirmed"] == 0
    assert published["correlation_ids"] == ["req-import-42", "req-other"]
    assert published["tenant_ids"] == [str(tenant.pk)] and published["duration_ms"] > 0
    per_event = json_logs.where(logger="events.relay", level="DEBUG", correlation_id="req-import-42")
    assert sorted(line["event_id"] for line in per_event) == sorted(str(e.event_id) for e in import_events)
    assert {line["tenant_id"] for line in per_event} == {str(tenant.pk)}


def test_a_real_worker_logs_its_task_under_the_context_of_the_request_that_queued_it(tenant, json_logs):
    """The context travels in the message headers to a worker thread (a fresh context of its own)."""
    from celery import Celery
    from celery.contrib.testing.worker import start_worker

    from contacts_service.celery import app as project_app

    # No Django fix-up: it would set Django up again (LOGGING anew) and close this process's database
    # socket, as it does in a forked worker.
    app = Celery("observability-test", broker=django_settings.REDIS_URL, set_as_current=False, fixups=[])
    app.conf.update(
        task_default_queue=f"observability-{uuid.uuid4().hex[:8]}", worker_hijack_root_logger=False
    )

    @app.task(name="tests.observability.log_in_task")
    def log_in_task(n: int) -> None:
        logging.getLogger("tests.observability").info("inside the task %d", n)

    try:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10):
            with request_scope("req-worker-7"):
                set_current_tenant(tenant)
                set_current_actor(Actor(type="user", id="u-1"))
                log_in_task.delay(1)
            deadline = time.monotonic() + 15
            while not json_logs.where(logger="contacts_service.tasks") and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        project_app.set_current()  # start_worker made the test app the process default
        project_app.set_default()
        redis.Redis.from_url(django_settings.REDIS_URL).delete(app.conf.task_default_queue)

    [inside] = json_logs.where(logger="tests.observability")
    assert inside["message"] == "inside the task 1"
    assert (inside["correlation_id"], inside["tenant_id"], inside["actor"]) == (
        "req-worker-7", str(tenant.pk), "user:u-1",
    )  # fmt: skip
    [done] = json_logs.where(logger="contacts_service.tasks")
    assert (done["task"], done["state"], done["correlation_id"]) == (
        "tests.observability.log_in_task", "SUCCESS", "req-worker-7",
    )  # fmt: skip
    assert done["duration_ms"] >= 0


def test_a_task_queued_without_a_request_gets_its_own_correlation_id_and_system_actor(json_logs):
    from contacts_service.celery import app

    @app.task(name="tests.observability.plain_task")
    def plain_task() -> None:
        logging.getLogger("tests.observability").info("beat-like task")

    # A fresh, empty context, as in beat: nothing to inherit (a test's own context may hold an id).
    contextvars.Context().run(plain_task.delay)
    contextvars.Context().run(plain_task.delay)
    first, second = json_logs.where(logger="tests.observability")
    assert first["correlation_id"] != "-" and first["correlation_id"] != second["correlation_id"]
    assert (first["tenant_id"], first["actor"]) == ("-", "-")
    assert SYSTEM_ACTOR.log_label == "system:system"


# -- metrics ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_metrics_after_api_calls_an_import_and_a_relay_publish(api, tenant, broker, media):
    before = scrape()

    for email in ("eve@example.com", "fay@example.com"):
        assert api.post(reverse("contact-list"), {"email": email}, format="json").status_code == 201
    assert api.get(reverse("contact-list")).status_code == 200
    missing = reverse("contact-detail", kwargs={"pk": uuid.uuid4()})
    assert api.get(missing).status_code == 404
    _import(api, cid="req-metrics")

    pending = scrape()
    assert value(pending, "contacts_outbox_pending_events") == 6  # 2 + 3 contact.created, import.completed
    assert value(pending, "contacts_outbox_oldest_pending_age_seconds") >= 0
    assert value(pending, "contacts_import_jobs", status="completed") == 1
    assert value(pending, "contacts_import_jobs", status="failed") == 0
    assert _drain() == 6
    after = scrape()

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("contacts_http_requests_total", view="contact-list", method="POST", status="201") == 2
    assert delta("contacts_http_requests_total", view="contact-list", method="GET", status="200") == 1
    assert delta("contacts_http_requests_total", view="contact-detail", method="GET", status="404") == 1
    assert delta("contacts_http_requests_total", view="import-start", method="POST", status="200") == 1
    assert delta("contacts_http_request_duration_seconds_count", view="contact-list", method="POST",
                 status="201") == 2  # fmt: skip
    assert delta("contacts_http_request_duration_seconds_bucket", view="contact-list", method="POST",
                 status="201", le="+Inf") == 2  # fmt: skip
    assert delta("contacts_import_rows_total", outcome="created") == 3
    assert delta("contacts_import_batch_duration_seconds_count") == 1
    assert delta("contacts_celery_tasks_total", task="imports.tasks.import_run", state="SUCCESS") == 1
    assert delta("contacts_relay_events_published_total") == 6
    assert delta("contacts_relay_batch_duration_seconds_count") == 1
    assert delta("contacts_relay_events_failed_total", reason="nacked") == 0
    assert value(after, "contacts_outbox_pending_events") == 0
    assert value(after, "contacts_outbox_oldest_pending_age_seconds") == 0
    assert value(after, "contacts_metrics_source_up", source="database") == 1
    assert "/api/v1/contacts" not in after  # labelled by URL name, never by raw path


def test_celery_queue_length_is_the_redis_list_length_of_each_queue(db, settings):
    settings.CELERY_BROKER_URL = django_settings.REDIS_URL
    queue = f"observability-{uuid.uuid4().hex[:8]}"
    settings.METRICS_CELERY_QUEUES = [queue, f"{queue}-empty"]
    client = redis.Redis.from_url(django_settings.REDIS_URL)
    client.rpush(queue, "a", "b")
    client.rpush(f"{queue}\x06\x163", "c")  # kombu's list for priority 3 of the same queue
    try:
        text = scrape()
    finally:
        client.delete(queue, f"{queue}\x06\x163")
    assert value(text, "contacts_celery_queue_length", queue=queue) == 3
    assert value(text, "contacts_celery_queue_length", queue=f"{queue}-empty") == 0
    assert value(text, "contacts_metrics_source_up", source="celery_broker") == 1


def test_a_source_that_is_down_or_slow_is_reported_and_the_scrape_still_answers(db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    settings.METRICS_QUERY_TIMEOUT_MS = 200
    other = psycopg.connect(
        host=connection.settings_dict["HOST"] or "127.0.0.1", port=connection.settings_dict["PORT"] or 5432,
        user=connection.settings_dict["USER"], dbname=connection.settings_dict["NAME"],
    )  # fmt: skip
    try:
        other.execute("SET lock_timeout = '2s'")
        other.execute("LOCK TABLE events_outboxevent IN ACCESS EXCLUSIVE MODE")  # every read waits
        started = time.monotonic()
        text = scrape()
        assert time.monotonic() - started < 3  # the statement timeout, not the lock, decided
    finally:
        other.rollback()
        other.close()
    assert value(text, "contacts_metrics_source_up", source="database") == 0
    assert value(text, "contacts_metrics_source_up", source="celery_broker") == 0
    assert "contacts_outbox_pending_events" not in text
    assert value(scrape(), "contacts_metrics_source_up", source="database") == 1  # timeout restored


def test_counters_of_other_processes_are_added_up_in_multiprocess_mode(db, tmp_path, monkeypatch):
    """The relay (or a worker) in its own process writes to PROMETHEUS_MULTIPROC_DIR; the web's
    /metrics reads every process's files."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    code = (
        "from contacts_service import metrics\n"
        "metrics.relay_batch_observe(published={n}, nacked=1, unconfirmed=0, seconds=0.01)\n"
    )
    for n in (4, 3):  # two relay processes, one after the other
        subprocess.run([sys.executable, "-c", code.format(n=n)], env=env, check=True, timeout=60)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    text = scrape()
    assert value(text, "contacts_relay_events_published_total") == 7
    assert value(text, "contacts_relay_events_failed_total", reason="nacked") == 2
    assert value(text, "contacts_relay_batch_duration_seconds_count") == 2
    assert value(text, "contacts_outbox_pending_events") == 0  # the scrape-time gauges are still there


def test_metrics_need_the_token_when_one_is_set(db, settings):
    settings.METRICS_TOKEN = "s3cret-metrics-token"
    for headers in (
        {},
        {"HTTP_AUTHORIZATION": "Bearer wrong"},
        {"HTTP_AUTHORIZATION": "s3cret-metrics-token"},
    ):
        response = Client().get("/metrics", **headers)
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated" and response.json()["correlation_id"]
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    text = scrape(HTTP_AUTHORIZATION="Bearer s3cret-metrics-token", REMOTE_ADDR="10.1.2.3")
    assert "contacts_outbox_pending_events" in text


def test_metrics_without_a_token_are_for_localhost_only(db, settings):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    assert Client().post("/metrics").status_code == 405
    assert scrape(REMOTE_ADDR="::1").startswith("# HELP")


def test_the_plain_format_names_the_context_on_one_readable_line(settings):
    from contacts_service.context import PlainLogFormatter

    assert settings.LOGGING["formatters"]["plain"]["()"] == "contacts_service.context.PlainLogFormatter"
    formatter = PlainLogFormatter(settings.LOGGING["formatters"]["plain"]["format"])
    forged = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "Not Found: %s",
                               ("/x\n2026-01-01 00:00:00,000 INFO x [cid=admin] GET /",), None)  # fmt: skip
    RequestContextLogFilter().filter(forged)
    assert "\n" not in formatter.format(forged) and "/x\\n2026" in formatter.format(forged)
    record = logging.LogRecord("contacts.x", logging.INFO, __file__, 1, "hello %s", ("ann",), None)
    with request_scope("req-plain-1"):
        set_current_actor(SYSTEM_ACTOR)
        RequestContextLogFilter().filter(record)
    line = formatter.format(record)
    assert line.endswith(" INFO contacts.x [cid=req-plain-1 tenant=- actor=system:system] hello ann")

"""Prometheus metrics (prometheus-client) and GET /metrics.

Two kinds:
- counters and histograms that the processes update as work happens: API requests (web), Celery
  tasks and import rows (workers), relay publishes (relay). With PROMETHEUS_MULTIPROC_DIR set (its
  value must be the same directory for every process of a host, emptied when they start), each
  process writes its values to files there and /metrics adds up every process's files, so one scrape
  of any web worker shows the gunicorn workers, the Celery workers and the relay of its host. Without
  it (runserver, tests) they are the web process's own.
- gauges read when /metrics is scraped (StateCollector): outbox backlog, import and export jobs by
  status (PostgreSQL, under a statement timeout) and Celery queue lengths (Redis LLEN). Nothing keeps
  them in memory, so they are right whichever process answers.

This module is imported by every process: it must not touch Django models at import time.
"""

from __future__ import annotations

import hmac
import logging
import os
from collections.abc import Iterator

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

METRICS_VIEW_NAME = "metrics"

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_BATCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "contacts_http_requests",
    "HTTP requests answered, by URL name (view), method and status code.",
    ["view", "method", "status"],
)
HTTP_DURATION = Histogram(
    "contacts_http_request_duration_seconds",
    "Time from the first middleware to the response, by URL name (view), method and status code.",
    ["view", "method", "status"],
    buckets=_LATENCY_BUCKETS,
)
IMPORT_ROWS = Counter(
    "contacts_import_rows",
    "CSV import rows committed, by outcome (created, updated, unchanged, skipped, duplicate, failed).",
    ["outcome"],
)
IMPORT_BATCH_DURATION = Histogram(
    "contacts_import_batch_duration_seconds",
    "Time to plan and commit one import batch.",
    buckets=_BATCH_BUCKETS,
)
RELAY_PUBLISHED = Counter(
    "contacts_relay_events_published", "Outbox events RabbitMQ confirmed (marked sent)."
)
RELAY_FAILED = Counter(
    "contacts_relay_events_failed",
    "Outbox events sent but not confirmed, by reason (nacked, unconfirmed); they stay pending and are "
    "sent again.",
    ["reason"],
)
RELAY_BATCH_DURATION = Histogram(
    "contacts_relay_batch_duration_seconds",
    "Time from sending a relay batch to recording its confirms.",
    buckets=_BATCH_BUCKETS,
)
RELAY_OUTAGES = Counter(
    "contacts_relay_outages", "Times the relay found RabbitMQ or PostgreSQL unavailable.", ["dependency"]
)
CELERY_TASKS = Counter(
    "contacts_celery_tasks", "Celery tasks run, by task name and final state.", ["task", "state"]
)
CELERY_TASK_DURATION = Histogram(
    "contacts_celery_task_duration_seconds", "Run time of Celery tasks, by task name.", ["task"],
    buckets=_BATCH_BUCKETS,
)  # fmt: skip


HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def method_label(method: str | None) -> str:
    """The method as a label value: any other token a client sends (servers pass e.g. "ZZ0001")
    is "other", so no request can add a series."""
    return method if method in HTTP_METHODS else "other"


def request_observe(*, view: str, method: str, status: int, seconds: float) -> None:
    method = method_label(method)
    HTTP_REQUESTS.labels(view, method, str(status)).inc()
    HTTP_DURATION.labels(view, method, str(status)).observe(seconds)


def import_batch_observe(*, counts: dict[str, int], seconds: float) -> None:
    """One committed import batch: its rows by outcome (rate() of the sum is rows/s)."""
    outcomes = {"create": "created", "update": "updated", "unchanged": "unchanged", "skip": "skipped",
                "duplicate": "duplicate", "error": "failed"}  # fmt: skip
    for key, outcome in outcomes.items():
        if counts.get(key):
            IMPORT_ROWS.labels(outcome).inc(counts[key])
    IMPORT_BATCH_DURATION.observe(seconds)


def relay_batch_observe(*, published: int, nacked: int, unconfirmed: int, seconds: float) -> None:
    RELAY_PUBLISHED.inc(published)
    if nacked:
        RELAY_FAILED.labels("nacked").inc(nacked)
    if unconfirmed:
        RELAY_FAILED.labels("unconfirmed").inc(unconfirmed)
    RELAY_BATCH_DURATION.observe(seconds)


def task_observe(*, task: str, state: str, seconds: float) -> None:
    CELERY_TASKS.labels(task, state).inc()
    CELERY_TASK_DURATION.labels(task).observe(seconds)


# -- gauges read at scrape time ---------------------------------------------------------------------

# kombu's Redis transport keeps a queue's messages of priority steps 3, 6 and 9 in lists beside the
# queue's own ("celery\x06\x163"); the queue's depth is the sum.
_REDIS_PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")


class StateCollector(Collector):
    """Gauges from PostgreSQL and Redis, one cheap query each, read when /metrics is scraped. A source
    that fails or times out is reported by contacts_metrics_source_up 0 instead of failing the scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "contacts_metrics_source_up",
            "1 when the source of the scrape-time gauges answered.",
            labels=["source"],
        )
        try:
            yield from self._database()
            up.add_metric(["database"], 1)
        except DatabaseError as exc:
            logger.warning("metrics: database gauges unavailable: %s", exc)
            up.add_metric(["database"], 0)
        broker = settings.CELERY_BROKER_URL
        if broker.startswith(("redis://", "rediss://", "unix://")):
            try:
                yield self._celery_queues(broker)
                up.add_metric(["celery_broker"], 1)
            except Exception as exc:  # redis raises its own ConnectionError/TimeoutError family
                logger.warning("metrics: Celery queue lengths unavailable: %s", exc)
                up.add_metric(["celery_broker"], 0)
        yield up

    def _database(self) -> list[GaugeMetricFamily]:
        from events.selectors import outbox_lag
        from imports.models import ExportJob, ExportStatus, ImportJob, ImportStatus

        with transaction.atomic():
            if connection.vendor == "postgresql":
                # Bounded: a scrape must never queue behind a slow query (SET LOCAL ends with the
                # transaction; in a surrounding one, e.g. a test's, the next line restores it).
                with connection.cursor() as cursor:
                    cursor.execute("SELECT current_setting('statement_timeout')")
                    previous = cursor.fetchone()[0]
                    cursor.execute(
                        "SELECT set_config('statement_timeout', %s, true)",
                        [str(settings.METRICS_QUERY_TIMEOUT_MS)],
                    )
            lag = outbox_lag()
            imports = _count_by_status(ImportJob, ImportStatus.values)
            exports = _count_by_status(ExportJob, ExportStatus.values)
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [previous])
        pending = GaugeMetricFamily(
            "contacts_outbox_pending_events", "Outbox events not yet confirmed by RabbitMQ."
        )
        pending.add_metric([], lag["pending"])
        age = GaugeMetricFamily(
            "contacts_outbox_oldest_pending_age_seconds",
            "Age of the oldest pending outbox event (0 when none): the relay's lag.",
        )
        age.add_metric([], lag["oldest_pending_age_seconds"])
        import_jobs = GaugeMetricFamily("contacts_import_jobs", "Import jobs by status.", labels=["status"])
        for status, n in imports.items():
            import_jobs.add_metric([status], n)
        export_jobs = GaugeMetricFamily("contacts_export_jobs", "Export jobs by status.", labels=["status"])
        for status, n in exports.items():
            export_jobs.add_metric([status], n)
        return [pending, age, import_jobs, export_jobs]

    @staticmethod
    def _celery_queues(broker_url: str) -> GaugeMetricFamily:
        import redis

        timeout = settings.METRICS_QUERY_TIMEOUT_MS / 1000
        client = redis.Redis.from_url(broker_url, socket_timeout=timeout, socket_connect_timeout=timeout)
        try:
            pipe = client.pipeline(transaction=False)
            for queue in settings.METRICS_CELERY_QUEUES:
                for suffix in _REDIS_PRIORITY_SUFFIXES:
                    pipe.llen(queue + suffix)
            lengths = pipe.execute()
        finally:
            client.close()
        family = GaugeMetricFamily(
            "contacts_celery_queue_length",
            "Messages waiting in a Celery queue (Redis LLEN).",
            labels=["queue"],
        )
        steps = len(_REDIS_PRIORITY_SUFFIXES)
        for i, queue in enumerate(settings.METRICS_CELERY_QUEUES):
            family.add_metric([queue], sum(lengths[i * steps : (i + 1) * steps]))
        return family


def _count_by_status(model, statuses: list[str]) -> dict[str, int]:
    from django.db.models import Count

    counts = dict.fromkeys(statuses, 0)  # every status, also at 0: alerts can compare against it
    for row in model.objects.unscoped().values("status").annotate(n=Count("pk")).order_by():
        counts[row["status"]] = row["n"]
    return counts


_state_registry = CollectorRegistry(auto_describe=False)
_state_registry.register(StateCollector())


def metrics_text() -> bytes:
    """Every metric in the Prometheus text format: the processes' counters (all processes' files in
    multiprocess mode, else this process's) followed by the scrape-time gauges."""
    multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiproc_dir:
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes, path=multiproc_dir)
    else:
        processes = REGISTRY
    return generate_latest(processes) + generate_latest(_state_registry)


@csrf_exempt  # no cookie session here: other methods get the JSON 405 below, not the HTML CSRF page
def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics. With METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>`; without
    it, only callers on this host (REMOTE_ADDR 127.0.0.1 or ::1)."""
    from contacts_service.errors import json_error_response

    token = settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            response = json_error_response(
                401, "not_authenticated", "Metrics need the header Authorization: Bearer <METRICS_TOKEN>."
            )
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif request.META.get("REMOTE_ADDR") not in ("127.0.0.1", "::1"):
        return json_error_response(
            403, "permission_denied", "Metrics are served to localhost only unless METRICS_TOKEN is set."
        )
    if request.method not in ("GET", "HEAD"):
        return json_error_response(405, "method_not_allowed", f'Method "{request.method}" not allowed.')
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)

"""Celery application; workers and beat load tasks from every installed app.

The signal handlers carry the sender's context into its tasks: the correlation id, tenant id and
actor of the request (or task) that queued a task travel in the message headers, so the worker's
log lines for that task carry them; each task run is logged once with its duration and counted in
the metrics. Workers keep Django's LOGGING (JSON lines) instead of Celery's own log format.
"""

from __future__ import annotations

import logging
import os
import time

from celery import Celery
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_service.settings")

app = Celery("contacts_service")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger("contacts_service.tasks")

# Message header names; prefixed, since Celery's own request already has a "correlation_id" (the task id).
HEADER_CORRELATION_ID = "contacts_correlation_id"
HEADER_TENANT_ID = "contacts_tenant_id"
HEADER_ACTOR = "contacts_actor"

_running: dict[str, tuple[float, object]] = {}  # task id -> (start, context tokens) while it runs


@setup_logging.connect
def _keep_django_logging(**_kwargs) -> None:
    """Any receiver stops Celery from configuring logging: Django's LOGGING (applied by django.setup()
    in the worker) stays in force. LOG_LEVEL sets the level; `celery worker -l` does not."""


@before_task_publish.connect
def _headers_from_context(headers: dict | None = None, **_kwargs) -> None:
    from contacts_service.context import get_log_context

    if headers is None:
        return
    context = get_log_context()
    for name, value in (
        (HEADER_CORRELATION_ID, context["correlation_id"]),
        (HEADER_TENANT_ID, context["tenant_id"]),
        (HEADER_ACTOR, context["actor"]),
    ):
        if value and name not in headers:
            headers[name] = value


@task_prerun.connect
def _enter_task_context(task_id: str | None = None, task=None, **_kwargs) -> None:
    """A worker reads the headers; an eager task (run in the sender's own context, no message) keeps
    the sender's values. A task that came with no correlation id (beat) gets a new one for its run."""
    from contacts_service.context import clean_correlation_id, get_log_context, task_scope_enter

    request = task.request if task is not None else None
    sender = get_log_context()

    def header(name: str) -> str | None:
        value = getattr(request, name, None)
        if value is None and request is not None:
            value = (getattr(request, "headers", None) or {}).get(name)
        return value if isinstance(value, str) else None

    tokens = task_scope_enter(
        correlation_id=clean_correlation_id(header(HEADER_CORRELATION_ID) or sender["correlation_id"]),
        tenant_id=header(HEADER_TENANT_ID) or sender["tenant_id"],
        actor=header(HEADER_ACTOR) or sender["actor"],
    )
    _running[task_id] = (time.perf_counter(), tokens)
    logger.debug("task %s started", task.name if task is not None else "?", extra={"task_id": task_id})


@task_postrun.connect
def _leave_task_context(task_id: str | None = None, task=None, state: str | None = None, **_kwargs) -> None:
    from contacts_service import metrics
    from contacts_service.context import task_scope_exit

    started, tokens = _running.pop(task_id, (None, None))
    if started is None:
        return
    seconds = time.perf_counter() - started
    name = task.name if task is not None else "?"
    metrics.task_observe(task=name, state=state or "UNKNOWN", seconds=seconds)
    try:
        logger.info(
            "task %s %s",
            name,
            state,
            extra={"task": name, "task_id": task_id, "state": state, "duration_ms": round(seconds * 1000, 2)},
        )
    finally:
        task_scope_exit(tokens)

"""Queueing a Celery task once the transaction commits, whatever the broker's state."""

from __future__ import annotations

import logging

from django.db import transaction
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


def delay_on_commit(task, *args, run_here: bool = False) -> None:
    """task.delay(*args) once the transaction commits. With the broker unreachable (Redis down: the
    publish raises after Celery's retries, about 0.6 s when the connection is refused, longer when
    Redis does not answer at all) the request whose change committed is not a 500
    (it was): with `run_here` the task runs in this process instead (segment upkeep: members stay
    current), else it is left to the periodic job that finds what was not queued (stalled imports and
    exports, every minute)."""

    def send() -> None:
        try:
            task.delay(*args)
        except OperationalError as exc:
            logger.warning(
                "Celery broker unreachable, %s not queued (%s): %s",
                task.name,
                exc,
                "run in this process" if run_here else "left to the periodic re-queue",
            )
            if run_here:
                try:
                    task(*args)
                except Exception:  # the change committed: its answer stands; the failure is logged
                    logger.exception("%s failed in this process", task.name)

    transaction.on_commit(send)

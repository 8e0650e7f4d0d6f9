"""Beat's schedule (CELERY_BEAT_SCHEDULE) run in-process, for the embedded default of
`./scripts/run`: with no broker there is no beat process, and without one a segment with an
"in the last N days" rule drifted, export files and import drafts were never pruned (personal
data), duplicates were never recomputed. A daemon thread of the runserver process runs each entry
a few seconds after start and then every `schedule` seconds, each run in-process as the other tasks are.
EMBEDDED_PERIODIC turns it on or off (default: on when tasks run without a worker)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import close_old_connections

logger = logging.getLogger(__name__)

TICK_SECONDS = 5.0


def run_due(next_runs: dict[str, float], now: float) -> dict[str, bool]:
    """Run every entry whose time has come (all of them the first time) and set its next time;
    returns {name: succeeded} of those run. A failing task is logged; the others still run."""
    from contacts_service.celery import app

    app.loader.import_default_modules()  # the tasks modules: discovery is lazy until a worker starts
    ran = {}
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        if next_runs.get(name, now) > now:
            continue
        try:
            schedule = entry["schedule"]  # seconds, or a timedelta / celery schedule with run_every
            every = getattr(schedule, "run_every", schedule)
            next_runs[name] = now + (
                every.total_seconds() if hasattr(every, "total_seconds") else float(every)
            )
            close_old_connections()  # one the database dropped while idle since the last run
            result = app.tasks[entry["task"]].apply()
            ran[name] = not result.failed()
            if result.failed():
                logger.error("periodic %s failed: %r", name, result.result)
        except Exception:
            ran[name] = False
            logger.exception("periodic %s failed", name)
        finally:
            close_old_connections()
    return ran


def _loop(stop: threading.Event, clock: Callable[[], float]) -> None:
    next_runs: dict[str, float] = {}
    while not stop.wait(TICK_SECONDS):  # the first run a few seconds in: the server has loaded by then
        try:
            run_due(next_runs, clock())
        except Exception:  # the thread lives on: the next tick tries again
            logger.exception("periodic: a round failed")


def start(stop: threading.Event | None = None) -> threading.Thread:
    thread = threading.Thread(
        target=_loop, args=(stop or threading.Event(), time.monotonic), name="embedded-beat", daemon=True
    )
    thread.start()
    logger.info("embedded: running the periodic tasks in-process (EMBEDDED_PERIODIC)")
    return thread

"""gunicorn settings for the web process:

    gunicorn -c python:contacts_service.gunicorn_conf contacts_service.wsgi

Workers, threads, bind address and timeout come from the environment (GUNICORN_WORKERS,
GUNICORN_THREADS, GUNICORN_BIND, GUNICORN_TIMEOUT). In prometheus-client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR) a worker that exits has its live gauges dropped, so /metrics never adds
in a dead worker's values.
"""

import os


def env_int(name: str, default: int, *, minimum: int) -> int:
    """An integer variable (empty: the default). Gunicorn reads this file before Django is set up, so
    this does what settings.env_int does on its own: a value that is not an integer, or is below
    `minimum`, stops start-up with one line naming the variable (SystemExit, no traceback)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"{name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise SystemExit(f"{name} must be at least {minimum}, not {value!r}")
    return number


bind = os.environ.get("GUNICORN_BIND", "").strip() or "0.0.0.0:8000"
workers = env_int("GUNICORN_WORKERS", 4, minimum=1)
# Threads per worker: a request waiting on a slow query holds one thread, not a whole worker (the
# load test's reads p95 halved with 4: docs/operations.md, Load). Each thread keeps its own database
# connection (DATABASE_CONN_MAX_AGE): docs/scaling.md counts web processes x threads.
threads = env_int("GUNICORN_THREADS", 4, minimum=1)
timeout = env_int("GUNICORN_TIMEOUT", 60, minimum=0)  # 0: no worker timeout (gunicorn's meaning)
accesslog = None  # the service writes its own JSON access log line per request


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

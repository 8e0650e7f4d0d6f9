"""gunicorn settings for the web process:

    gunicorn -c python:contacts_service.gunicorn_conf contacts_service.wsgi

Workers, threads, bind address and timeout come from the environment (GUNICORN_WORKERS,
GUNICORN_THREADS, GUNICORN_BIND, GUNICORN_TIMEOUT). In prometheus-client's multiprocess mode
(PROMETHEUS_MULTIPROC_DIR) a worker that exits has its live gauges dropped, so /metrics never adds
in a dead worker's values.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
# Threads per worker: a request waiting on a slow query holds one thread, not a whole worker (the
# load test's reads p95 halved with 4: docs/operations.md, Load).
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
accesslog = None  # the service writes its own JSON access log line per request


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

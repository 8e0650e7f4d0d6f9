"""Concurrent writes in the embedded default (SQLite), as `./scripts/run` serves them: runserver
answers each request in a thread, so two clients write at once. Transactions take SQLite's write
lock when they begin (IMMEDIATE) and wait for it; deferred ones that read first (the unique checks)
failed at once with a 500 "database is locked" (83 of 120 creates from 8 threads)."""

from tests.embedded.test_sqlite_default import run_embedded
from tests.embedded.test_sqlite_parity import PRELUDE

SCRIPT = (
    PRELUDE
    + r"""
import collections, threading
from django.db import connections
codes = collections.Counter()

def worker(n):
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION="Api-Key " + key)
    try:
        for i in range(10):
            body = {"email": f"p{n}-{i}@x.example", "first_name": "P"}
            codes[client.post("/api/v1/contacts/", body, format="json").status_code] += 1
    finally:
        connections.close_all()

threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()
out["codes"] = dict(codes)
out["count"] = api.get("/api/v1/contacts/").json()["count"]
print("RESULT " + json.dumps(out))
"""
)


def test_concurrent_contact_creates_do_not_fail_in_the_embedded_default(tmp_path):
    out = run_embedded(tmp_path, SCRIPT)
    assert out == {"codes": {"201": 60}, "count": 60}

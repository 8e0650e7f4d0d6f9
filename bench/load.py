"""Load test (locust) of the API's everyday mix; run it with bench/load.sh, which seeds, serves and reports.

    bench/load.sh            # 50 users, spawn 10/s, 2 minutes, gunicorn -w 2 on 127.0.0.1

Each simulated user is an API client of one of two seeded tenants (API key, owner role) who waits
LOAD_WAIT_MIN..LOAD_WAIT_MAX seconds (default 0.5-1.5) between calls and picks, by weight:
  80% reads   list page (25), filtered list (15), search (20), get one contact (20)
  15% writes  create (5), update (6), tag (4)
   5% starts  export (3: POST /exports/), import (2: POST /imports/ of a 20-row CSV, then /start/)
LOAD_SEARCHES (comma-separated) replaces the search terms.
At the end it prints throughput, p50/p95/p99 and errors per kind and per request, and exits 1 when
a target is missed: no error at all, and p95 of reads under 100 ms.

The target must be this machine (127.0.0.1 / localhost / ::1): the test refuses any other host.
"""

from __future__ import annotations

import json
import os
import random
import uuid
from urllib.parse import urlsplit

from locust import FastHttpUser, between, events, task
from locust.stats import StatsEntry

FIXTURE = os.environ.get("LOAD_FIXTURE", "var/load/fixture.json")
READ_P95_TARGET_MS = 100
CITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "Lisbon", "Oslo", "Vienna"]
# "Company 77": a word under 3 characters, which the trigram indexes cannot serve (people type those).
SEARCHES = os.environ.get("LOAD_SEARCHES", "Last42,First123,Company 77,person12,example5.com,3361000").split(
    ","
)
FILTERS = [
    {"country": "FR"},
    {"status": "inactive"},
    {"tags": "VIP"},
    {"attribute": "plan:pro"},
    {"consent": "email:marketing:granted"},
    {"ordering": "last_name"},
]


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--fixture", default=FIXTURE, help="tenants' API keys and sample contact ids")


@events.test_start.add_listener
def _refuse_remote_hosts(environment, **kwargs):
    host = urlsplit(environment.host or "").hostname
    if host not in {"127.0.0.1", "localhost", "::1"}:
        raise SystemExit(f"bench/load.py only targets this machine (127.0.0.1), not {host!r}")


def _fixture(environment) -> dict:
    if not hasattr(environment, "load_fixture"):
        with open(environment.parsed_options.fixture) as handle:
            environment.load_fixture = json.load(handle)
    return environment.load_fixture


class ApiClient(FastHttpUser):
    wait_time = between(
        float(os.environ.get("LOAD_WAIT_MIN", "0.5")), float(os.environ.get("LOAD_WAIT_MAX", "1.5"))
    )

    def on_start(self):
        tenant = random.choice(_fixture(self.environment)["tenants"])
        self.headers = {"Authorization": f"Api-Key {tenant['key']}"}
        self.contact_ids = list(tenant["contact_ids"])

    def _get(self, name: str, path: str, params: dict | None = None):
        with self.client.get(path, params=params, headers=self.headers, name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code}: {r.text[:200]}")

    def _send(self, method: str, name: str, path: str, expected: int, **kwargs):
        with self.client.request(
            method, path, headers=self.headers, name=name, catch_response=True, **kwargs
        ) as r:
            if r.status_code != expected:
                r.failure(f"{r.status_code}: {r.text[:200]}")
                return None
            return r.json()

    # -- reads (80) ----------------------------------------------------------------------------------

    @task(25)
    def list_page(self):
        self._get("read: list", "/api/v1/contacts/", {"page": random.randint(1, 20)})

    @task(15)
    def list_filtered(self):
        self._get("read: filter", "/api/v1/contacts/", random.choice(FILTERS))

    @task(20)
    def search(self):
        self._get("read: search", "/api/v1/contacts/", {"search": random.choice(SEARCHES)})

    @task(20)
    def get_one(self):
        self._get("read: get", f"/api/v1/contacts/{random.choice(self.contact_ids)}/")

    # -- writes (15) ---------------------------------------------------------------------------------

    @task(5)
    def create(self):
        body = {"email": f"load-{uuid.uuid4().hex[:16]}@example.org", "first_name": "Load", "country": "FR"}
        created = self._send("POST", "write: create", "/api/v1/contacts/", 201, json=body)
        if created:
            self.contact_ids.append(created["id"])

    @task(6)
    def update(self):
        body = {"city": random.choice(CITIES)}
        self._send(
            "PATCH", "write: update", f"/api/v1/contacts/{random.choice(self.contact_ids)}/", 200, json=body
        )

    @task(4)
    def tag(self):
        body = {"tags": [random.choice(["Load", "VIP", "Lead"])]}
        self._send(
            "POST", "write: tag", f"/api/v1/contacts/{random.choice(self.contact_ids)}/tags/", 200, json=body
        )

    # -- starts (5) ----------------------------------------------------------------------------------

    @task(3)
    def export_start(self):
        body = {"filters": {"tags": "VIP", "country": "FR"}, "columns": ["id", "email", "tags"]}
        self._send("POST", "start: export", "/api/v1/exports/", 201, json=body)

    @task(2)
    def import_start(self):
        run = uuid.uuid4().hex[:10]
        rows = "".join(f"import-{run}-{n}@example.org,Imported,{n},DE\n" for n in range(20))
        upload = ("contacts.csv", f"email,first_name,last_name,country\n{rows}".encode(), "text/csv")
        job = self._send("POST", "start: import upload", "/api/v1/imports/", 201, files={"file": upload})
        if job:
            self._send("POST", "start: import start", f"/api/v1/imports/{job['id']}/start/", 200)


# -- the report -------------------------------------------------------------------------------------


def _merged(environment, entries: list[StatsEntry], name: str) -> StatsEntry:
    merged = StatsEntry(environment.stats, name, "")
    for entry in entries:
        merged.extend(entry)
    return merged


def _line(label: str, entry: StatsEntry, seconds: float) -> str:
    if not entry.num_requests:
        return f"{label:28} {'no requests':>10}"
    p = entry.get_response_time_percentile
    errors = entry.num_failures / entry.num_requests * 100
    return (
        f"{label:28} {entry.num_requests:8} {entry.num_requests / seconds:7.1f}/s {p(0.5):6.0f} {p(0.95):6.0f} "
        f"{p(0.99):6.0f} {entry.max_response_time or 0:7.0f} {entry.num_failures:6} {errors:6.2f}%"
    )


@events.quitting.add_listener
def _report(environment, **kwargs):
    stats = environment.stats
    total = stats.total
    seconds = max((total.last_request_timestamp or 0) - (total.start_time or 0), 1e-9)
    kinds = {
        kind: _merged(
            environment, [e for (name, _), e in stats.entries.items() if name.startswith(kind)], kind
        )
        for kind in ("read", "write", "start")
    }
    header = f"{'':28} {'requests':>8} {'rate':>9} {'p50':>6} {'p95':>6} {'p99':>6} {'max':>7} {'errors':>6} {'rate':>7}"
    print("\n== load: per kind (milliseconds)")
    print(header)
    for kind, entry in kinds.items():
        print(_line(kind + "s", entry, seconds))
    print(_line("all", total, seconds))
    print("\n== load: per request (milliseconds)")
    print(header)
    for (name, _method), entry in sorted(stats.entries.items()):
        print(_line(name, entry, seconds))
    for error in stats.errors.values():
        print(f"error x{error.occurrences}: {error.method} {error.name}: {error.error}")
    read_p95 = kinds["read"].get_response_time_percentile(0.95) if kinds["read"].num_requests else None
    missed = []
    if total.num_failures:
        missed.append(f"{total.num_failures} errors (target 0)")
    if read_p95 is None or read_p95 >= READ_P95_TARGET_MS:
        missed.append(f"reads p95 {read_p95} ms (target < {READ_P95_TARGET_MS} ms)")
    print(f"\n== load: {'targets MISSED: ' + '; '.join(missed) if missed else 'targets met'} "
          f"({total.num_requests} requests in {seconds:.0f} s, {total.num_requests / seconds:.1f}/s)")  # fmt: skip
    environment.process_exit_code = 1 if missed else 0

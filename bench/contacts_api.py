"""Contacts API against PostgreSQL: framework cost vs the bare SQL the endpoint needs.

    .venv/bin/python bench/contacts_api.py [--contacts 50000] [--runs 200]

Seeds one tenant (plus a second tenant of the same size) with COPY, then times through the
Django test client: list page 1, list filtered by country, search by email fragment, exact-email
lookup, and create (one contact per request: validation, history, timeline, outbox). In the same
run it times the bare SQL of each call with a cursor and prints p50/p95 and the ratio.
Uses the database BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/contacts_bench).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/contacts_bench"
)
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_service.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402
import psycopg  # noqa: E402


def ensure_database(url: str) -> None:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(fn, runs: int) -> list[float]:
    fn()  # warm-up
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def seed(tenant_id: uuid.UUID, count: int) -> None:

    from contacts_service.ids import new_id

    countries = ["FR", "DE", "US", "GB", "ES", "IT", "NL", "BE"]
    buf = io.StringIO()
    now = "2026-01-01 00:00:00+00"
    for n in range(count):
        first, last = f"First{n % 5000}", f"Last{n % 7919}"
        buf.write(
            "\t".join(
                [
                    str(new_id()),
                    str(tenant_id),
                    f"person{n}.{tenant_id.hex[:6]}@example{n % 97}.com",
                    first,
                    last,
                    f"{first} {last}",
                    "f",
                    f"Company {n % 1000}",
                    f"+3361{n:07d}"[:12],
                    countries[n % len(countries)],
                    f"City {n % 300}",
                    "active",
                    "bench",
                    "\\N",
                    "{}",
                    now,
                    now,
                    "\\N",
                    "\\N",
                    "1",
                ]
            )
            + "\n"
        )
    copy_contacts(buf)


CONTACT_COPY_COLUMNS = (
    "id, tenant_id, email, first_name, last_name, display_name, display_name_custom, company, phone, "
    "country, city, status, source, external_id, attributes, created_at, updated_at, last_activity_at, "
    "deleted_at, event_sequence"
)


def copy_contacts(buf: io.StringIO) -> None:
    """COPY tab-separated rows of CONTACT_COPY_COLUMNS into contacts_contact, then ANALYZE."""
    from django.db import connection

    buf.seek(0)
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY contacts_contact ({CONTACT_COPY_COLUMNS}) FROM STDIN") as copy,
    ):
        while chunk := buf.read(1 << 20):
            copy.write(chunk)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from rest_framework.test import APIClient

    from contacts_service import services
    from contacts_service.models import Tenant

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(name="bench-a").first()
    if tenant is None or not tenant.pk:
        tenant = Tenant.objects.create(name="bench-a")
        other = Tenant.objects.create(name="bench-b")
        print(f"seeding {args.contacts} contacts in each of 2 tenants ...", flush=True)
        seed(tenant.pk, args.contacts)
        seed(other.pk, args.contacts)
    key = services.apikey_create(tenant=tenant, name="bench", role="owner").key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    email = f"person{args.contacts // 2}.{tenant.pk.hex[:6]}@example{(args.contacts // 2) % 97}.com"

    def sql(query: str, params: list):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(query, params)
                cursor.fetchall()

        return run

    tid = str(tenant.pk)
    cols = (
        "id, email, first_name, last_name, display_name, company, phone, country, city, status, source, "
        "external_id, attributes, created_at, updated_at, last_activity_at"
    )
    live = "tenant_id = %s AND deleted_at IS NULL"
    cases = [
        (
            "list page 1",
            lambda: client.get("/api/v1/contacts/"),
            [
                (f"SELECT count(*) FROM contacts_contact WHERE {live}", [tid]),
                (
                    f"SELECT {cols} FROM contacts_contact WHERE {live} ORDER BY created_at DESC, id DESC LIMIT 25",
                    [tid],
                ),
            ],
        ),
        (
            "list country=FR",
            lambda: client.get("/api/v1/contacts/", {"country": "FR"}),
            [
                (f"SELECT count(*) FROM contacts_contact WHERE {live} AND country = 'FR'", [tid]),
                (
                    f"SELECT {cols} FROM contacts_contact WHERE {live} AND country = 'FR' "
                    "ORDER BY created_at DESC, id DESC LIMIT 25",
                    [tid],
                ),
            ],
        ),
        (
            "exact email",
            lambda: client.get("/api/v1/contacts/", {"email": email}),
            [
                (f"SELECT count(*) FROM contacts_contact WHERE {live} AND email = %s", [tid, email]),
                (f"SELECT {cols} FROM contacts_contact WHERE {live} AND email = %s LIMIT 25", [tid, email]),
            ],
        ),
        (
            "search 'person1234'",
            lambda: client.get("/api/v1/contacts/", {"search": "person1234"}),
            [
                (
                    f"SELECT count(*) FROM contacts_contact WHERE {live} AND (UPPER(email::text) LIKE UPPER(%s) "
                    "OR UPPER(first_name::text) LIKE UPPER(%s) OR UPPER(last_name::text) LIKE UPPER(%s) "
                    "OR UPPER(display_name::text) LIKE UPPER(%s) OR UPPER(company::text) LIKE UPPER(%s))",
                    [tid] + ["%person1234%"] * 5,
                )
            ],
        ),
    ]
    print(f"\n{'call':24} {'api p50':>9} {'api p95':>9} {'sql p50':>9} {'sql p95':>9} {'ratio p50':>9}")
    for name, call, queries in cases:
        response = call()
        assert response.status_code == 200, response.content[:300]
        api = timed(call, args.runs)
        bare = timed(lambda qs=queries: [sql(q, p)() for q, p in qs], args.runs)
        p50a, p50s = statistics.median(api), statistics.median(bare)
        print(
            f"{name:24} {p50a:8.2f}ms {percentile(api, 0.95):8.2f}ms {p50s:8.2f}ms "
            f"{percentile(bare, 0.95):8.2f}ms {p50a / p50s:8.1f}x"
        )

    counter = iter(range(10**9))
    run_tag = uuid.uuid4().hex[:8]

    def create():
        n = next(counter)
        r = client.post(
            "/api/v1/contacts/", {"email": f"new{n}.{run_tag}@bench.test", "first_name": "N"}, format="json"
        )
        assert r.status_code == 201, r.content

    def raw_insert():
        from contacts_service.ids import new_id

        n = next(counter)
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO contacts_contact (id, tenant_id, email, first_name, last_name, display_name, "
                "display_name_custom, company, phone, country, city, status, source, attributes, created_at, "
                "updated_at, event_sequence) VALUES (%s, %s, %s, 'N', '', 'N', false, '', NULL, '', '', 'active', "
                "'api', '{}', now(), now(), 1)",
                [new_id(), tid, f"raw{n}.{run_tag}@bench.test"],
            )

    api = timed(create, args.runs)
    bare = timed(raw_insert, args.runs)
    p50a, p50s = statistics.median(api), statistics.median(bare)
    print(
        f"{'create (1 per request)':24} {p50a:8.2f}ms {percentile(api, 0.95):8.2f}ms {p50s:8.2f}ms "
        f"{percentile(bare, 0.95):8.2f}ms {p50a / p50s:8.1f}x"
    )
    print(
        f"\ncreate throughput: {1000 / p50a:.0f} contacts/s per process (raw INSERT {1000 / p50s:.0f}/s); "
        "each create also writes history rows, a timeline entry and an outbox row"
    )


if __name__ == "__main__":
    main()

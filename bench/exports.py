"""CSV export through the Celery task's code vs a bare COPY (SELECT ...) TO STDOUT of the same rows.

    .venv/bin/python bench/exports.py [--rows 100000] [--runs 3]

Seeds --rows contacts once per size with COPY (2 custom attributes, 0-2 tags each, one list each, 1%
of the first names starting with =, some commas and quotes), then times, best of --runs:
  - imports.exports.export_process (what the task runs: filters, chunks, neutralising, the file
    saved to the default storage) with the 12 columns of the bare COPY,
  - the same with the default columns (those 12 + tags),
  - the same with the default columns + lists + the 2 attributes,
  - the portable writer (no COPY; what SQLite runs) with the 12 columns, once,
  - bare COPY (SELECT <the 12 columns> ...) TO STDOUT WITH CSV into a temporary file.
Prints rows/s of each, the ratio to the bare COPY and the peak RSS of this process.
Uses BENCH_DATABASE_URL (default: its own database, so it never competes with bench/imports.py).
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/contacts_bench_exports"
)
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_service.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-exports-"))

import django  # noqa: E402
import psycopg  # noqa: E402

COUNTRIES = ["FR", "DE", "NL", "BE", "US", "GB", "ES", "IT"]
PLANS = ["free", "pro", "team"]
SEED_COLUMNS = (
    "id, tenant_id, email, first_name, last_name, display_name, display_name_custom, company, phone, "
    "country, city, status, source, external_id, attributes, created_at, updated_at, last_activity_at, "
    "deleted_at, event_sequence"
)
BARE_COLUMNS = [
    "id", "email", "first_name", "last_name", "company", "phone", "country", "city", "status", "external_id",
    "created_at", "updated_at",
]  # fmt: skip


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_database(url: str) -> None:
    from urllib.parse import urlparse

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def copy_in(cursor, table: str, columns: str, lines) -> None:
    with cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        buffer = io.StringIO()
        for n, line in enumerate(lines, 1):
            buffer.write(line)
            if n % 50_000 == 0:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())


def seed(tenant_id, rows: int) -> None:
    """Contacts by COPY from a generator; tags and lists linked in SQL (nothing kept in this process)."""
    from django.db import connection

    from contacts_service.ids import new_id

    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # one contact a second, in id order
    tags = [new_id() for _ in range(20)]
    lists = [new_id() for _ in range(3)]

    def contacts():
        for n in range(rows):
            first = f"=First{n}" if n % 100 == 0 else f"First{n % 997}"
            company = f'Company {n % 503}, "Ltd"' if n % 50 == 0 else f"Company {n % 503}"
            yield (f"{new_id()}\t{tenant_id}\tperson{n}@export.bench\t{first}\tLast{n % 991}\t{first} Last\tf\t"
                   f"{company}\t+3361{n % 10_000_000:07d}\t{COUNTRIES[n % 8]}\tCity {n % 301}\tactive\tbench\t"
                   f"ext-{n}\t{{\"score\": {n % 1000}, \"plan\": \"{PLANS[n % 3]}\"}}\t"
                   f"{created + dt.timedelta(seconds=n)}\t{created + dt.timedelta(seconds=n, days=1)}\t\\N\t\\N\t1\n")  # fmt: skip

    numbered = (
        "(SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM contacts_contact WHERE tenant_id = %s) c"
    )
    with connection.cursor() as cursor:
        copy_in(cursor.cursor, "contacts_contact", SEED_COLUMNS, contacts())
        copy_in(cursor.cursor, "tags_tag", "id, tenant_id, name, color, description, created_at, updated_at",
                (f"{i}\t{tenant_id}\tTag {n}\t#6B7280\t\t2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\n"
                 for n, i in enumerate(tags)))  # fmt: skip
        copy_in(cursor.cursor, "lists_contactlist",
                "id, tenant_id, name, description, kind, status, rules, created_by, created_at, updated_at",
                (f"{i}\t{tenant_id}\tList {n}\t\tstatic\tactive\t\\N\t{{}}\t2026-01-01 00:00:00+00\t"
                 "2026-01-01 00:00:00+00\n" for n, i in enumerate(lists)))  # fmt: skip
        # 0, 1 or 2 tags and one list per contact.
        cursor.execute(
            "INSERT INTO tags_tagassignment (id, tenant_id, tag_id, contact_id, added_at, added_by) "
            "SELECT gen_random_uuid(), %s, (%s::uuid[])[(c.n + k) %% 20 + 1], c.id, now(), '{}' "
            f"FROM {numbered} CROSS JOIN LATERAL generate_series(0, (c.n %% 3)::int - 1) k",
            [tenant_id, tags, tenant_id],
        )
        cursor.execute(
            "INSERT INTO lists_listmembership (id, tenant_id, contact_list_id, contact_id, added_at, added_by) "
            f"SELECT gen_random_uuid(), %s, (%s::uuid[])[c.n %% 3 + 1], c.id, now(), '{{}}' FROM {numbered}",
            [tenant_id, lists, tenant_id],
        )
        for table in ("contacts_contact", "tags_tagassignment", "lists_listmembership"):
            cursor.execute(f"ANALYZE {table}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="each figure is the best of this many runs")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from contacts.models import AttributeDefinition
    from contacts_service.context import SYSTEM_ACTOR, tenant_context
    from contacts_service.models import Tenant
    from imports import exports
    from imports.models import ExportJob

    call_command("migrate", verbosity=0)
    name = f"export-bench-{args.rows}"  # seeded once per size, then reused
    tenant = Tenant.objects.filter(name=name).first()
    if tenant is None:
        tenant = Tenant.objects.create(name=f"{name}-seeding")
        with tenant_context(tenant):
            AttributeDefinition.objects.create(tenant=tenant, key="score", label="Score", type="number")
            AttributeDefinition.objects.create(
                tenant=tenant, key="plan", label="Plan", type="choice", choices=PLANS
            )
        started = time.perf_counter()
        seed(tenant.pk, args.rows)
        Tenant.objects.filter(pk=tenant.pk).update(name=name)
        print(f"seeded {args.rows:,} contacts (+ tags, lists) in {time.perf_counter() - started:.1f}s")

    def task(columns: list[str]) -> tuple[float, ExportJob]:
        # The job is created as the API does; with no broker the task would run at commit, so run
        # its code here: either way the timing is the task's own.
        with tenant_context(tenant):
            job = ExportJob.objects.for_tenant(tenant).create(
                tenant=tenant, filters={}, columns=columns, actor=SYSTEM_ACTOR.as_dict()
            )
        started = time.perf_counter()
        exports.export_process(job.pk)
        seconds = time.perf_counter() - started
        job.refresh_from_db()
        assert job.status == "completed" and job.row_count == args.rows, (job.status, job.row_count)
        return seconds, job

    def portable(columns: list[str]) -> float:
        started = time.perf_counter()
        with tempfile.TemporaryFile() as out:
            written = exports.export_write(
                tenant=tenant, filters={}, columns=columns, out=out, use_copy=False
            )
        assert written == args.rows
        return time.perf_counter() - started

    def bare_copy() -> float:
        select = ", ".join(BARE_COLUMNS)
        started = time.perf_counter()
        with tempfile.TemporaryFile() as out, connection.cursor() as cursor:
            statement = (
                f"COPY (SELECT {select} FROM contacts_contact WHERE tenant_id = '{tenant.pk}' "
                "AND deleted_at IS NULL ORDER BY id) TO STDOUT WITH CSV"
            )
            with cursor.cursor.copy(statement) as copy:
                for block in copy:
                    out.write(block)
        return time.perf_counter() - started

    rss_before = rss_mb()
    bare_copy()  # warm the cache: every run below reads the same pages
    rich_columns = [*exports.DEFAULT_COLUMNS, "lists", "attributes.score", "attributes.plan"]
    same_seconds, job = min(task(BARE_COLUMNS) for _ in range(args.runs))
    default_seconds, _ = min(task(exports.DEFAULT_COLUMNS) for _ in range(args.runs))
    rich_seconds, rich_job = min(task(rich_columns) for _ in range(args.runs))
    portable_seconds = portable(BARE_COLUMNS)
    copy_seconds = min(bare_copy() for _ in range(args.runs))
    rss_after = rss_mb()

    def line(label: str, seconds: float) -> str:
        rate = args.rows / seconds
        return (
            f"{label:<52} {rate:>11,.0f} rows/s ({seconds:.2f}s) -> {copy_seconds / seconds:.2f}x bare COPY"
        )

    print(f"{args.rows:,} rows; file {job.file_size / 1e6:.1f} MB (same columns), "
          f"{rich_job.file_size / 1e6:.1f} MB (default + lists + 2 attributes)")  # fmt: skip
    print(line("export task, same 12 columns as the bare COPY", same_seconds))
    print(line("export task, default columns (the 12 + tags)", default_seconds))
    print(line("export task, default columns + lists + 2 attributes", rich_seconds))
    print(line("portable writer (no COPY), same 12 columns", portable_seconds))
    print(f"{'bare COPY (SELECT ...) TO STDOUT WITH CSV':<52} {args.rows / copy_seconds:>11,.0f} rows/s "
          f"({copy_seconds:.2f}s)")  # fmt: skip
    print(f"target: >= 100,000 rows/s; peak RSS {rss_after:.0f} MB (before the exports {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()

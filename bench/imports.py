"""CSV import end to end (the Celery task's code) vs a bare COPY and a bare 500-row staged upsert.

    .venv/bin/python bench/imports.py [--rows 1000000]

Generates a CSV of --rows rows (10 columns incl. 2 custom attributes, 5% invalid emails, 10%
duplicates of contacts that already exist), imports it through imports.tasks.import_run, and in
the same run times on the same (valid) rows:
  - bare COPY into contacts_contact (no events, no history, rolled back),
  - bare staged upsert: per 500 rows, COPY into a temp table + INSERT ... ON CONFLICT DO UPDATE,
    one commit per batch (no events, no history).
  - the floor: that staged upsert plus the history, timeline and outbox rows the job wrote, as bare
    INSERT ... SELECT (what any import that keeps history and events must write at least).
Prints rows/s, the ratios, and the peak RSS of this process. Uses BENCH_DATABASE_URL. The tables it
writes are vacuumed first, untimed (see bench.bulk_links.vacuum).
"""

from __future__ import annotations

import argparse
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
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/contacts_bench"
)
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_service.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-imports-"))

import django  # noqa: E402

COUNTRIES = ["FR", "DE", "NL", "BE", "US", "GB", "ES", "IT"]
PLANS = ["free", "pro", "team"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_csv(path: Path, rows: int, existing: int) -> int:
    """Returns the number of valid rows."""
    valid = 0
    with path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,last_name,company,phone,country,city,external_id,score,plan\n")
        for n in range(rows):
            if n % 20 == 7:
                email = f"broken-{n}.example.com"  # 5% invalid
            elif n % 10 == 3 and existing:
                email = f"old{n % existing}@import.bench"  # 10% already exist
                valid += 1
            else:
                email = f"new{n}@import.bench"
                valid += 1
            out.write(f"{email},First{n % 997},Last{n % 991},Company {n % 503},+3361{n % 10_000_000:07d},"
                      f"{COUNTRIES[n % 8]},City {n % 301},ext-{n},{n % 1000},{PLANS[n % 3]}\n")  # fmt: skip
    return valid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    from bench.contacts_api import CONTACT_COPY_COLUMNS, ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.core.files import File
    from django.core.management import call_command
    from django.db import connection, transaction

    from contacts.models import AttributeDefinition
    from contacts_service.context import SYSTEM_ACTOR, tenant_context
    from contacts_service.ids import new_id
    from contacts_service.models import Tenant
    from imports import services
    from imports.tasks import import_run

    call_command("migrate", verbosity=0)
    # The job queues one duplicate recompute of the tenant when it ends: a task of its own, which
    # eager mode (no broker here) would run inside import_run. Not part of the import's time.
    services.duplicates_recompute_later = lambda **kwargs: None
    # Likewise the ANALYZE contacts_contact task a large import queues (seconds on a large table).
    services.contacts_analyze_later = lambda: None
    tenant = Tenant.objects.create(name=f"import-bench-{time.time_ns()}")
    existing = args.rows // 10
    with tenant_context(tenant):
        AttributeDefinition.objects.create(tenant=tenant, key="score", label="Score", type="number")
        AttributeDefinition.objects.create(
            tenant=tenant, key="plan", label="Plan", type="choice", choices=PLANS
        )
        buf = io.StringIO()
        for n in range(existing):
            buf.write(f"{new_id()}\t{tenant.pk}\told{n}@import.bench\tOld\tOne\tOld One\tf\t\t\\N\tFR\t\tactive\t"
                      f"bench\t\\N\t{{}}\t2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\t\\N\t\\N\t1\n")  # fmt: skip
        buf.seek(0)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY contacts_contact ({CONTACT_COPY_COLUMNS}) FROM STDIN") as copy,
        ):
            copy.write(buf.read())
        transaction.commit() if not connection.get_autocommit() else None

    from bench.bulk_links import vacuum

    vacuum(
        connection,
        ["contacts_contact", "contacts_contactchange", "events_timelineentry", "events_outboxevent"],
    )
    path = Path(tempfile.mkdtemp(prefix="bench-csv-")) / "contacts.csv"
    valid = write_csv(path, args.rows, existing)
    print(
        f"{args.rows:,} rows ({valid:,} valid), {path.stat().st_size / 1e6:.1f} MB; {existing:,} contacts exist"
    )
    rss_before = rss_mb()

    with tenant_context(tenant), path.open("rb") as handle:
        upload = File(handle, name="contacts.csv")
        upload.size = path.stat().st_size
        started = time.perf_counter()
        job = services.import_create(tenant=tenant, actor=SYSTEM_ACTOR, upload=upload)
        upload_seconds = time.perf_counter() - started
        started = time.perf_counter()
        # With no broker configured the task runs in-process right at start (CELERY_TASK_ALWAYS_EAGER);
        # with one, run it here: either way the timing is the task's own code.
        services.import_start(tenant=tenant, job_id=job.pk)
    import_run(str(job.pk))
    import_seconds = time.perf_counter() - started
    job.refresh_from_db()
    rss_after = rss_mb()
    print(f"upload+scan {upload_seconds:.1f}s; job {job.status}: created {job.created_count:,} updated "
          f"{job.updated_count:,} failed {job.failed_count:,}")  # fmt: skip

    # Baselines on the valid rows, as the database would take them with no service around it.
    lines = [line.rstrip("\n").split(",") for line in path.open(encoding="utf-8")][1:]
    lines = [r for r in lines if "@" in r[0]]
    base_tenant = Tenant.objects.create(name=f"import-base-{time.time_ns()}")

    def copy_rows(rows, tenant_id, target):
        out = io.StringIO()
        for r in rows:
            out.write(f"{new_id()}\t{tenant_id}\t{r[0]}\t{r[1]}\t{r[2]}\t{r[1]} {r[2]}\tf\t{r[3]}\t{r[4]}\t{r[5]}\t"
                      f"{r[6]}\tactive\timport\t{r[7]}\t{{\"score\": {r[8]}, \"plan\": \"{r[9]}\"}}\t"
                      f"2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\t\\N\t\\N\t1\n")  # fmt: skip
        out.seek(0)
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {target} ({CONTACT_COPY_COLUMNS}) FROM STDIN") as copy,
        ):
            copy.write(out.read())

    unique = list({r[0]: r for r in lines}.values())
    started = time.perf_counter()
    with transaction.atomic():
        copy_rows(unique, base_tenant.pk, "contacts_contact")
        copy_seconds = time.perf_counter() - started
        transaction.set_rollback(True)

    started = time.perf_counter()
    for offset in range(0, len(lines), 500):
        chunk = list({r[0]: r for r in lines[offset : offset + 500]}.values())
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE staging (LIKE contacts_contact INCLUDING DEFAULTS) ON COMMIT DROP"
            )
            copy_rows(chunk, base_tenant.pk, "staging")
            cursor.execute(
                f"INSERT INTO contacts_contact ({CONTACT_COPY_COLUMNS}) SELECT {CONTACT_COPY_COLUMNS} FROM staging "
                "ON CONFLICT (tenant_id, email) WHERE email IS NOT NULL AND deleted_at IS NULL DO UPDATE SET "
                "first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, company = EXCLUDED.company, "
                "phone = EXCLUDED.phone, country = EXCLUDED.country, city = EXCLUDED.city, "
                "attributes = contacts_contact.attributes || EXCLUDED.attributes, updated_at = now()"
            )
    upsert_seconds = time.perf_counter() - started

    # The rows the import must write besides the contacts (a history row, a timeline entry and an
    # outbox event per change), written bare: one INSERT ... SELECT per table of the job's own
    # rows with fresh ids, same indexes and constraints, rolled back. The import cannot beat this.
    from contacts.models import ContactChange
    from events.models import OutboxEvent, TimelineEntry

    side_rows = 0
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        for model, fresh in ((ContactChange, {"id"}), (TimelineEntry, {"id", "event_id"}),
                             (OutboxEvent, {"event_id"})):  # fmt: skip
            fields = [f for f in model._meta.concrete_fields if not (f.primary_key and f.get_internal_type()
                      == "BigAutoField")]  # fmt: skip
            columns = ", ".join(f.column for f in fields)
            values = ", ".join("gen_random_uuid()" if f.column in fresh else f.column for f in fields)
            cursor.execute(
                f"INSERT INTO {model._meta.db_table} ({columns}) SELECT {values} FROM {model._meta.db_table} "
                "WHERE tenant_id = %s",
                [tenant.pk],
            )
            side_rows += cursor.rowcount
        side_seconds = time.perf_counter() - started
        transaction.set_rollback(True)
    floor_seconds = upsert_seconds + side_seconds

    rate = args.rows / import_seconds
    print(f"import end to end: {rate:,.0f} rows/s ({import_seconds:.1f}s for {args.rows:,} rows)")
    print(
        f"bare COPY:          {len(unique) / copy_seconds:,.0f} rows/s -> import is {rate / (len(unique) / copy_seconds):.2f}x"
    )
    print(f"bare staged upsert: {len(lines) / upsert_seconds:,.0f} rows/s -> import is "
          f"{rate / (len(lines) / upsert_seconds):.2f}x (target >= 0.66x)")  # fmt: skip
    print(f"floor (staged upsert + the {side_rows:,} history/timeline/outbox rows as bare INSERT ... SELECT): "
          f"{args.rows / floor_seconds:,.0f} rows/s -> import is {rate / (args.rows / floor_seconds):.2f}x")  # fmt: skip
    print(f"peak RSS: {rss_after:.0f} MB (before the import {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()

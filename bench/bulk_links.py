"""Bulk tag, bulk list add and segment rebuild vs a plain INSERT ... SELECT of the same rows.

    .venv/bin/python bench/bulk_links.py [--contacts 1000000] [--history 2] [--links]

Seeds one tenant with COPY (10% in NL, 10% in BE) and a history (seed_history: 2 timeline entries and
1 sent outbox row per contact, kept the same from run to run), then in the same run:
  - tag the 10% NL contacts with one bulk call (link rows + sequence bump + timeline + outbox),
  - add the same contacts to a static list,
  - build a dynamic segment "country in NL, BE" (~20%),
and for each, a bare INSERT INTO <same table> SELECT ... of the same rows (no events) as baseline,
committed like the bulk call (a deferrable foreign key is checked at commit: a rolled-back INSERT
never pays for its 2-3 checks per row; that figure is printed too), its rows deleted afterwards.
Every timed statement starts after a VACUUM and a CHECKPOINT (untimed; see settle()).
The tags, lists and segments a run makes are deleted at its end (and any an interrupted run left
before it starts): a segment left over would be rebuilt after every later bulk tag (with no broker
the task runs eagerly, inside the timed call), so each run would time one more rebuild than the last.
Uses BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/contacts_bench).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
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

import django  # noqa: E402

COUNTRIES = ["NL", "BE", "FR", "FR", "DE", "DE", "US", "US", "GB", "ES"]


def seed(tenant_id, count: int) -> None:
    from bench.contacts_api import copy_contacts
    from contacts_service.ids import new_id

    buf = io.StringIO()
    for n in range(count):
        buf.write(
            f"{new_id()}\t{tenant_id}\tp{n}@bulk.test\tF{n % 999}\tL{n % 777}\tF L\tf\tCo\t\\N\t{COUNTRIES[n % 10]}\t"
            f"City\tactive\tbench\t\\N\t{{}}\t2026-01-01 00:00:00+00\t2026-01-01 00:00:00+00\t\\N\t\\N\t1\n"
        )
    copy_contacts(buf)


HISTORY_AT = "2026-01-01 00:00:00+00"  # the seeded history's time; rows after it are a run's own


def seed_history(tenant_id, per_contact: int) -> None:
    """Each contact's past before any run: `per_contact` timeline entries (--history, 2 by default) and
    one outbox row (sent; about what EVENTS_RETENTION_DAYS keeps), so the per-contact indexes every
    event lands in have the size of a tenant that has been in use, and the same size in every run:
    each run deletes what it wrote (cleanup). Without it the results depended on how many runs came before (each added 400,000
    events): the bulk tag went from 2.1x to 2.2-3.0x over a day of runs."""
    from django.db import connection

    zero = "00000000-0000-7000-8000-000000000000"
    actor = {"id": "system", "type": "system", "label": "system"}
    contact = {"email": "p0@bulk.test", "first_name": "F0", "last_name": "L0", "country": "NL"}
    payload = json.dumps({
        "event_id": zero, "event_type": "contact.created", "version": 1, "occurred_at": "2026-01-01T00:00:00Z",
        "tenant_id": str(tenant_id), "source": "contacts-service", "correlation_id": "0" * 32,
        "aggregate_type": "contact", "aggregate_id": zero, "sequence": 1, "actor": actor,
        "data": {"contact_id": zero, "contact": contact},
    })  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_timelineentry (id, tenant_id, contact_id, event_id, event_type, occurred_at, "
            "title, data, actor, source, correlation_id) SELECT gen_random_uuid(), c.tenant_id, c.id, "
            "gen_random_uuid(), 'contact.created', %s, 'Contact created', %s::jsonb, %s::jsonb, 'api', '' "
            "FROM contacts_contact c CROSS JOIN generate_series(1, %s) WHERE c.tenant_id = %s",
            [HISTORY_AT, json.dumps({"contact": contact}), json.dumps(actor), per_contact, tenant_id],
        )
        cursor.execute(
            "INSERT INTO events_outboxevent (tenant_id, event_id, event_type, aggregate_type, aggregate_id, "
            "sequence, payload, created_at, sent_at, attempts, last_error) SELECT c.tenant_id, gen_random_uuid(), "
            "'contact.created', 'contact', c.id, 1, %s::json, %s, %s, 1, '' FROM contacts_contact c "
            "WHERE c.tenant_id = %s",
            [payload, HISTORY_AT, HISTORY_AT, tenant_id],
        )


def seed_links(tenant) -> None:
    """The tags and lists a tenant in use has: two tags on every contact and every contact on one list
    (2,000,000 tag assignments and 1,000,000 memberships at 1M contacts), so that the link tables the
    bulk calls and their baselines insert into are not empty, their per-contact indexes as big as in
    use. Named seed-*: cleanup keeps them."""
    from django.db import connection, transaction

    from contacts_service.context import SYSTEM_ACTOR
    from lists import services as list_services
    from tags import services as tag_services

    with transaction.atomic(), connection.cursor() as cursor:  # all or nothing: a run checks for seed-a
        tags = [tag_services.tag_create(tenant=tenant, name=name).pk for name in ("seed-a", "seed-b")]
        seed_list = list_services.list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="seed-list").pk
        for table, column, targets in (
            ("tags_tagassignment", "tag_id", tags),
            ("lists_listmembership", "contact_list_id", [seed_list]),
        ):
            cursor.execute(
                f"INSERT INTO {table} (id, tenant_id, contact_id, {column}, added_at, added_by) "
                "SELECT gen_random_uuid(), c.tenant_id, c.id, t.id, %s, '{}'::jsonb FROM contacts_contact c "
                "CROSS JOIN unnest(%s::uuid[]) AS t(id) WHERE c.tenant_id = %s",
                [HISTORY_AT, targets, tenant.pk],
            )


def vacuum(connection, tables: list[str]) -> None:
    """VACUUM (ANALYZE) the tables a run writes, untimed: the rolled-back baselines of earlier runs leave
    dead rows, and test and dev servers often run with autovacuum off (this one does). It does not make
    the first run after other heavy work fast: that one still reads the big per-contact indexes of the
    timeline and outbox from disk (16-55 s for a bulk tag here, 3 s warm). Run twice."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(tables)}")
    print(f"vacuumed {', '.join(tables)} in {time.perf_counter() - started:.1f}s (untimed)", flush=True)


def settle(connection, tables: list[str]) -> None:
    """Put every timed statement (ours and each baseline) in the same state, untimed: VACUUM what the
    previous one left (the sequence bump's old contact versions, which the next scan of those pages
    would otherwise prune and log), then CHECKPOINT. Each operation writes 0.3-0.4 GB of WAL, so with
    max_wal_size 1 GB a checkpoint fell inside some operations and not others, and the first change of
    every page after one writes the whole page to the WAL: the same operation varied by 20-30%. After
    the CHECKPOINT each statement pays for the pages it touches first, as it would in production."""
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM {', '.join(tables)}")
        cursor.execute("CHECKPOINT")


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--history", type=int, default=2, help="timeline entries per contact before the runs")
    parser.add_argument(
        "--links", action="store_true", help="2 tags and 1 list on every contact before the runs"
    )
    args = parser.parse_args()

    from bench.contacts_api import ensure_database

    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from contacts.models import Contact
    from contacts.services.links import UUID7_SQL
    from contacts_service.context import SYSTEM_ACTOR, tenant_context
    from contacts_service.models import Tenant
    from lists import services as list_services
    from lists.dynamic import segment_rebuild
    from lists.models import ContactList
    from tags import services as tag_services

    call_command("migrate", verbosity=0)
    name = (
        f"bulk-{args.contacts}"
        + (f"-h{args.history}" if args.history != 2 else "")
        + ("-l" if args.links else "")
    )
    tenant = Tenant.objects.filter(name=name).first()
    if tenant is None:
        tenant = Tenant.objects.create(name=name)
        print(f"seeding {args.contacts:,} contacts ...", flush=True)
        _, seconds = timed(lambda: seed(tenant.pk, args.contacts))
        print(f"seeded in {seconds:.1f}s")
    from events.models import OutboxEvent

    if not OutboxEvent.objects.unscoped().filter(tenant=tenant, created_at=HISTORY_AT).exists():
        _, seconds = timed(lambda: seed_history(tenant.pk, args.history))
        print(f"seeded the history ({args.history} timeline entries, 1 sent outbox row per contact) in "
              f"{seconds:.1f}s")  # fmt: skip
    from tags.models import Tag

    if args.links and not Tag.objects.unscoped().filter(tenant=tenant, name="seed-a").exists():
        with tenant_context(tenant):
            _, seconds = timed(lambda: seed_links(tenant))
        print(f"seeded the links (2 tags per contact, 1 list per contact) in {seconds:.1f}s")

    def cleanup() -> None:
        """Drop what runs made (untimed): link rows first, in bulk, then the tags and lists, and the
        timeline entries and outbox rows of their events."""
        with connection.cursor() as cursor:
            for table, column, parent in (
                ("tags_tagassignment", "tag_id", "tags_tag"),
                ("lists_listmembership", "contact_list_id", "lists_contactlist"),
            ):
                made = f"SELECT id FROM {parent} WHERE tenant_id = %s AND name ~ '^(bench|probe|seg)-'"
                cursor.execute(f"DELETE FROM {table} WHERE {column} IN ({made})", [tenant.pk])
                cursor.execute(f"DELETE FROM {parent} WHERE id IN ({made})", [tenant.pk])
            # The events runs wrote (the seeded history is dated HISTORY_AT).
            cursor.execute("DELETE FROM events_timelineentry WHERE tenant_id = %s AND occurred_at > %s",
                           [tenant.pk, HISTORY_AT])  # fmt: skip
            cursor.execute("DELETE FROM events_outboxevent WHERE tenant_id = %s AND created_at > %s",
                           [tenant.pk, HISTORY_AT])  # fmt: skip

    cleanup()
    tables = ["contacts_contact", "tags_tagassignment", "lists_listmembership", "events_timelineentry",
              "events_outboxevent"]  # fmt: skip
    vacuum(connection, tables)

    def baseline(table: str, column: str, target_id, where: str) -> tuple[int, float, float]:
        """(rows, seconds committed, seconds of the INSERT alone) of the plain statement."""
        sql = (
            f"INSERT INTO {table} (id, tenant_id, contact_id, {column}, added_at, added_by) "
            f"SELECT {UUID7_SQL}, c.tenant_id, c.id, %s, now(), '{{}}'::jsonb FROM contacts_contact c "
            f"WHERE c.tenant_id = %s AND c.deleted_at IS NULL AND {where}"
        )

        def run():
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [target_id, tenant.pk])
                insert_seconds.append(time.perf_counter() - started)
                return cursor.rowcount

        insert_seconds: list[float] = []
        settle(connection, tables)
        started = time.perf_counter()
        rows, seconds = timed(run)
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [target_id])
        return rows, seconds, insert_seconds[0]

    def floor(table: str, column: str, target_id, where: str) -> float:
        """Seconds of the plain statements any bulk link that keeps events must run, committed: the
        link rows, the sequence bump of the same contacts, and a timeline and an outbox row each (the
        outbox payload one the bulk call wrote, verbatim), as INSERT ... SELECT; then deleted."""
        contacts = f"FROM contacts_contact c WHERE c.tenant_id = %s AND c.deleted_at IS NULL AND {where}"
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT payload::text, data::text, actor::text FROM events_outboxevent o "
                "JOIN events_timelineentry t ON t.tenant_id = o.tenant_id AND t.event_id = o.event_id "
                "WHERE o.tenant_id = %s ORDER BY o.id DESC LIMIT 1",
                [tenant.pk],
            )
            payload, data, actor = cursor.fetchone()
        statements = [
            (f"INSERT INTO {table} (id, tenant_id, contact_id, {column}, added_at, added_by) "
             f"SELECT {UUID7_SQL}, c.tenant_id, c.id, %s, now(), %s::jsonb {contacts}", [target_id, actor]),
            (f"UPDATE contacts_contact c SET event_sequence = c.event_sequence WHERE c.tenant_id = %s "
             f"AND c.deleted_at IS NULL AND {where}", []),
            ("INSERT INTO events_timelineentry (id, tenant_id, contact_id, event_id, event_type, occurred_at, "
             "title, data, actor, source, correlation_id) "
             f"SELECT {UUID7_SQL}, c.tenant_id, c.id, {UUID7_SQL}, 'bench.floor', now(), 'Tagged x', "
             f"%s::jsonb, %s::jsonb, 'api', '' {contacts}", [data, actor]),
            ("INSERT INTO events_outboxevent (tenant_id, event_id, event_type, aggregate_type, aggregate_id, "
             "sequence, payload, created_at, attempts, last_error) "
             f"SELECT c.tenant_id, {UUID7_SQL}, 'bench.floor', 'contact', c.id, 1, %s::json, now(), 0, '' "
             f"{contacts}", [payload]),
        ]  # fmt: skip
        settle(connection, tables)
        started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            for sql, params in statements:
                cursor.execute(sql, [*params, tenant.pk])  # the tenant of the contacts' WHERE comes last
        seconds = time.perf_counter() - started
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE {column} = %s", [target_id])
            cursor.execute("DELETE FROM events_timelineentry WHERE tenant_id = %s AND event_type = 'bench.floor'",
                           [tenant.pk])  # fmt: skip
            cursor.execute("DELETE FROM events_outboxevent WHERE tenant_id = %s AND event_type = 'bench.floor'",
                           [tenant.pk])  # fmt: skip
        return seconds

    rows_out = []
    with tenant_context(tenant):
        live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)
        tag = tag_services.tag_create(tenant=tenant, name=f"bench-{time.time_ns()}")
        settle(connection, tables)
        changed, seconds = timed(
            lambda: tag_services.tag_bulk(
                tenant=tenant, actor=SYSTEM_ACTOR, tag_id=tag.pk, selection=live.filter(country="NL")
            )
        )
        base = baseline("tags_tagassignment", "tag_id", (tag_services.tag_create(
            tenant=tenant, name=f"probe-{time.time_ns()}")).pk, "c.country = 'NL'")  # fmt: skip
        rows_out.append(("bulk tag", changed, seconds, *base))
        floor_seconds = floor("tags_tagassignment", "tag_id", (tag_services.tag_create(
            tenant=tenant, name=f"probe-{time.time_ns()}")).pk, "c.country = 'NL'")  # fmt: skip

        static = list_services.list_create(tenant=tenant, actor=SYSTEM_ACTOR, name=f"bench-{time.time_ns()}")
        selection = live.filter(country="NL")
        settle(connection, tables)
        changed, seconds = timed(
            lambda: list_services.list_members_change(
                tenant=tenant, actor=SYSTEM_ACTOR, list_id=static.pk, selection=selection
            )
        )
        probe_list = ContactList.objects.for_tenant(tenant).create(
            tenant=tenant, name=f"probe-{time.time_ns()}"
        )
        base = baseline("lists_listmembership", "contact_list_id", probe_list.pk, "c.country = 'NL'")
        rows_out.append(("list add", changed, seconds, *base))

        segment = ContactList.objects.for_tenant(tenant).create(
            tenant=tenant, name=f"seg-{time.time_ns()}", kind="dynamic",
            rules={"operator": "and", "rules": [{"field": "country", "op": "in", "value": ["NL", "BE"]}]},
        )  # fmt: skip
        settle(connection, tables)
        (added, _removed), seconds = timed(lambda: segment_rebuild(tenant=tenant, list_id=segment.pk))
        base = baseline("lists_listmembership", "contact_list_id", probe_list.pk, "c.country IN ('NL', 'BE')")
        rows_out.append(("segment rebuild", added, seconds, *base))
    cleanup()

    with connection.cursor() as cursor:
        counts = []
        for table in ("events_timelineentry", "tags_tagassignment", "lists_listmembership"):
            cursor.execute(f"SELECT count(*) FROM {table} WHERE tenant_id = %s", [tenant.pk])
            counts.append(cursor.fetchone()[0])
    print(f"\n{args.contacts:,} contacts in the tenant; after the run's cleanup {counts[0]:,} timeline entries, "
          f"{counts[1]:,} tag assignments, {counts[2]:,} list memberships")  # fmt: skip
    print(f"{'operation':18} {'rows':>9} {'seconds':>8} {'rows/s':>9} | {'INSERT..SELECT':>14} {'rows/s':>9} "
          f"| ratio | {'uncommitted':>11} ratio")  # fmt: skip
    for label, rows, seconds, base_rows, base_seconds, insert_seconds in rows_out:
        print(
            f"{label:18} {rows:>9,} {seconds:>8.2f} {rows / seconds:>9,.0f} | {base_seconds:>13.2f}s "
            f"{base_rows / base_seconds:>9,.0f} | {seconds / base_seconds:4.1f}x | {insert_seconds:>10.2f}s "
            f"{seconds / insert_seconds:4.1f}x"
        )
    print(
        "(our rows include, per contact: the link row, the sequence bump, a timeline entry and an outbox row)"
    )
    tag_seconds, tag_base = rows_out[0][2], rows_out[0][4]
    print(f"floor of bulk tag (those four as plain statements, committed): {floor_seconds:.2f}s = "
          f"{floor_seconds / tag_base:.1f}x the plain INSERT ... SELECT; the bulk tag is "
          f"{tag_seconds / floor_seconds:.1f}x the floor")  # fmt: skip


if __name__ == "__main__":
    main()

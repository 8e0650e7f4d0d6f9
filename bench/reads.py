"""Reads at scale: every contacts-list call of the admin frontend at 1,000,000 contacts per tenant.

    .venv/bin/python bench/reads.py [--contacts 1000000] [--runs 200]

Seeds (once; reused while the database keeps them) two tenants of --contacts contacts each, with
tags (10 per tenant, 1-2 per contact), static lists (1/4 and 1/7 of the contacts), email-marketing
consent (half granted) and two custom attributes; the contacts table's plain indexes are dropped
during the COPY and built after it, as a bulk load would. Then, for each call, times --runs
requests through the Django test client (API-key auth, full middleware) and, in the same run,
the very SQL statements the call executed (captured from the call, replayed with a cursor): the
framework's overhead is the ratio of the two. Prints p50/p95 of both.
Targets at 1M: p95 <= 25 ms for list pages and the exact-email lookup, p95 <= 50 ms for search of
3+ characters, overhead <= 2x the bare queries. Uses READS_DATABASE_URL (default contacts_reads).
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.contacts_api import CONTACT_COPY_COLUMNS, ensure_database, percentile, timed  # noqa: E402

os.environ["DATABASE_URL"] = os.environ.get(
    "READS_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/contacts_reads"
)
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_service.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

COUNTRIES = ["FR", "DE", "US", "GB", "ES", "IT", "NL", "BE"]
PLANS = ["free", "pro", "team"]
STATUSES = ["active"] * 18 + ["inactive", "blocked"]


def seed(tenant, count: int) -> None:
    from django.db import connection

    from consent.services import purposes_create_defaults
    from contacts.models import AttributeDefinition
    from contacts_service.context import tenant_context
    from contacts_service.ids import new_id
    from lists.models import ContactList
    from tags.models import Tag

    tid = tenant.pk
    with tenant_context(tenant):
        AttributeDefinition.objects.create(
            tenant=tenant, key="plan", label="Plan", type="choice", choices=PLANS
        )
        AttributeDefinition.objects.create(tenant=tenant, key="score", label="Score", type="number")
        for name in ["VIP", "Lead", "Customer", "Newsletter", "Partner", "Press", "Event", "Webinar", "Trial",
                     "Churned"]:  # fmt: skip
            Tag.objects.create(tenant=tenant, name=name)
        for name in ("Quarter", "Seventh"):
            ContactList.objects.create(tenant=tenant, name=name)
        purposes_create_defaults(tenant=tenant)
    tag = tid.hex[-6:]
    started = time.perf_counter()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY contacts_contact ({CONTACT_COPY_COLUMNS}) FROM STDIN") as copy,
    ):
        buf = io.StringIO()
        for n in range(count):
            first, last = f"First{n % 5000}", f"Last{n % 7919}"
            stamp = time.strftime("%Y-%m-%d %H:%M:%S+00", time.gmtime(1_767_225_600 - n * 30))  # every 30 s
            buf.write(
                f"{new_id()}\t{tid}\tperson{n}.{tag}@example{n % 97}.com\t{first}\t{last}\t{first} {last}\tf\t"
                f"Company {n % 1000}\t+3361{n:07d}\t{COUNTRIES[n % 8]}\tCity {n % 300}\t{STATUSES[n % 20]}\t"
                f"bench\text-{n}\t{{\"plan\": \"{PLANS[n % 3]}\", \"score\": {n % 100}}}\t"
                f"{stamp}\t{stamp}\t\\N\t\\N\t1\n"
            )  # fmt: skip
            if n % 20_000 == 19_999:
                copy.write(buf.getvalue())
                buf = io.StringIO()
        copy.write(buf.getvalue())
    with connection.cursor() as cursor:
        cursor.execute("UPDATE contacts_contact SET updated_at = created_at + ((hashtext(id::text) & 1023) "
                       "* interval '1 hour') WHERE tenant_id = %s", [tid])  # fmt: skip
        live = "SELECT id, created_at, row_number() OVER (ORDER BY created_at) AS rn FROM contacts_contact WHERE tenant_id = %s"
        tags = "SELECT id, row_number() OVER (ORDER BY name) - 1 AS k FROM tags_tag WHERE tenant_id = %s"
        cursor.execute(
            "INSERT INTO tags_tagassignment (id, tenant_id, tag_id, contact_id, added_at, added_by) "
            f"SELECT gen_random_uuid(), %s, t.id, c.id, c.created_at, '{{}}' FROM ({live}) c JOIN ({tags}) t "
            "ON t.k = c.rn %% 10 OR (c.rn %% 3 = 0 AND t.k = (c.rn / 3 + 5) %% 10)",
            [tid, tid, tid],
        )
        lists = (
            "SELECT id, row_number() OVER (ORDER BY name) AS k FROM lists_contactlist WHERE tenant_id = %s"
        )
        cursor.execute(
            "INSERT INTO lists_listmembership (id, tenant_id, contact_list_id, contact_id, added_at, added_by) "
            f"SELECT gen_random_uuid(), %s, l.id, c.id, c.created_at, '{{}}' FROM ({live}) c JOIN ({lists}) l "
            "ON (l.k = 1 AND c.rn %% 4 = 0) OR (l.k = 2 AND c.rn %% 7 = 0)",
            [tid, tid, tid],
        )
        cursor.execute(
            "INSERT INTO consent_consentrecord (id, tenant_id, contact_id, channel, purpose, status, legal_basis, "
            "source, proof, user_agent, actor, correlation_id, recorded_at, applied) "
            "SELECT c.id, %s, c.id, 'email', 'marketing', CASE WHEN c.rn %% 2 = 0 THEN 'granted' ELSE 'revoked' "
            "END, 'consent', 'bench', '{}', '', '{}', '', c.created_at, true FROM (" + live + ") c WHERE c.rn %% 3 <> 0",
            [tid, tid],
        )  # fmt: skip
        cursor.execute(
            "INSERT INTO consent_consentstate (id, tenant_id, contact_id, channel, purpose, status, legal_basis, "
            "source, record_id, updated_at) SELECT gen_random_uuid(), tenant_id, contact_id, channel, purpose, "
            "status, legal_basis, source, id, recorded_at FROM consent_consentrecord WHERE tenant_id = %s",
            [tid],
        )
    print(f"  seeded {count:,} contacts (+ tags, lists, consent) in {time.perf_counter() - started:.0f}s",
          flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed-only", action="store_true")
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from contacts_service import services
    from contacts_service.models import Tenant
    from lists.models import ContactList

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(name=f"reads-a-{args.contacts}").first()
    if tenant is None:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'contacts_contact' AND indexname "
                "NOT IN (SELECT conname FROM pg_constraint WHERE conrelid = 'contacts_contact'::regclass) "
                "AND indexdef NOT LIKE 'CREATE UNIQUE %'"  # partial unique constraints are bare indexes
            )
            plain = cursor.fetchall()
            for name, _ in plain:
                cursor.execute(f'DROP INDEX "{name}"')
        tenant = Tenant.objects.create(name=f"reads-a-{args.contacts}")
        other = Tenant.objects.create(name=f"reads-b-{args.contacts}")
        print(f"seeding {args.contacts:,} contacts in each of 2 tenants ...", flush=True)
        seed(tenant, args.contacts)
        seed(other, args.contacts)
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for _, definition in plain:
                cursor.execute(definition)
            cursor.execute("VACUUM ANALYZE contacts_contact")
            for table in ("tags_tagassignment", "lists_listmembership", "consent_consentstate"):
                cursor.execute(f"VACUUM ANALYZE {table}")
        print(f"  indexes built and tables analysed in {time.perf_counter() - started:.0f}s", flush=True)
    # Indexes a newer migration added since the seed.
    call_command("migrate", verbosity=0)
    if args.seed_only:
        return
    key = services.apikey_create(tenant=tenant, name="bench", role="owner").key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    n = args.contacts // 2
    email = f"person{n}.{tenant.pk.hex[-6:]}@example{n % 97}.com"
    quarter = str(ContactList.objects.unscoped().get(tenant=tenant, name="Quarter").pk)
    deep = client.get("/api/v1/contacts/", {"page_size": 50, "created_before": "2025-08-01T00:00:00Z"}).json()
    deep_cursor = deep["next_cursor"]

    C = "/api/v1/contacts/"
    cases = [
        ("list page 1", C, {}),
        ("list page 500", C, {"page": 500 if args.contacts >= 12_500 else 2}),
        ("cursor, ~half way", C, {"cursor": deep_cursor}),
        ("status=inactive", C, {"status": "inactive"}),
        ("country=FR", C, {"country": "FR"}),
        ("tags=Press (any)", C, {"tags": "Press"}),
        ("tags_all=VIP,Churned", C, {"tags_all": "VIP,Churned"}),
        ("list=<1/4 of all>", C, {"list": quarter}),
        ("consent email granted", C, {"consent": "email:marketing:granted"}),
        ("created in a month", C, {"created_after": "2025-06-01T00:00:00Z", "created_before": "2025-07-01T00:00:00Z"}),
        ("attribute plan:pro", C, {"attribute": "plan:pro"}),
        ("order updated_at", C, {"ordering": "-updated_at"}),
        ("order last_name", C, {"ordering": "last_name"}),
        ("order email", C, {"ordering": "email"}),
        ("exact email", C, {"email": email}),
        ("search email fragment", C, {"search": f"person{n // 10}."}),
        ("search name", C, {"search": "Last4242"}),
        ("search company", C, {"search": "Company 777"}),
        ("search phone", C, {"search": f"61{n:07d}"[:9]}),
        ("list members page 1", f"/api/v1/lists/{quarter}/contacts/", {}),
    ]  # fmt: skip

    def replay(queries):
        def run():
            with connection.cursor() as cursor:
                for sql in queries:
                    cursor.execute(sql)
                    cursor.fetchall()

        return run

    # The framework's own floor: an authenticated call that reads nothing (GET /me/, same client,
    # same middleware, API key and rate limiter): what any endpoint costs before its own work.
    floor = statistics.median(timed(lambda: client.get("/api/v1/me/"), args.runs))
    print(f"\nframework floor (GET /api/v1/me/, authenticated, no query of its own): p50 {floor:.2f}ms")
    print(f"\n{'call (' + format(args.contacts, ',') + ' contacts x 2 tenants)':34} {'api p50':>9} {'api p95':>9} "
          f"{'sql p50':>9} {'sql p95':>9} {'overhead':>8} {'beyond floor':>12} {'rows':>5} {'count':>10}")  # fmt: skip
    for name, url, params in cases:
        started = time.perf_counter()
        response = client.get(url, params)
        assert response.status_code == 200, (name, response.content[:300])
        runs = args.runs if time.perf_counter() - started < 0.5 else 20  # a pathological call: fewer runs
        name = name if runs == args.runs else f"{name} ({runs} runs)"
        with CaptureQueriesContext(connection) as captured:
            body = client.get(url, params).json()
        # The data's statements; not the API-key / tenant lookups of authentication (framework cost).
        queries = [q["sql"] for q in captured.captured_queries
                   if not q["sql"].startswith(("SAVEPOINT", "RELEASE")) and "contacts_service_" not in q["sql"]]  # fmt: skip
        api = timed(lambda url=url, params=params: client.get(url, params), runs)
        bare = timed(replay(queries), runs)
        count = f"{body['count']:,}{'~' if body.get('count_is_estimate') else ''}"
        print(f"{name:34} {statistics.median(api):8.2f}ms {percentile(api, 0.95):8.2f}ms "
              f"{statistics.median(bare):8.2f}ms {percentile(bare, 0.95):8.2f}ms "
              f"{statistics.median(api) / statistics.median(bare):7.2f}x "
              f"{(statistics.median(api) - floor) / statistics.median(bare):11.2f}x {len(body['results']):5} {count:>10}",
              flush=True)  # fmt: skip
    print(
        "\n(~ = estimated count; overhead = api p50 / the same SQL replayed with a cursor; beyond floor = "
        "(api p50 - framework floor) / that SQL)"
    )


if __name__ == "__main__":
    main()

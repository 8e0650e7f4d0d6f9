"""Outbox relay throughput vs bare pika publishers to the same exchange, same bodies and properties.

    .venv/bin/python bench/relay.py [--events 100000] [--batch-size 1000 [2000 ...]] [--repeat 2]
        [--per-contact 10] [--profile]

Seeds N pending outbox rows with one INSERT ... SELECT generate_series (envelopes shaped like
events.services.event_record's with a small contact.updated change: ~600 bytes as the relay sends
them, of which ~520 are the envelope's fixed fields; --per-contact events of each contact in a row,
which the relay sends in that many rounds per batch, the bare publishers all at once), then times OutboxRelay(batch_size=...).drain() publishing
all of them to a throwaway exchange (declared with events.broker.declare_topology, one durable
queue bound with "#"). In the same run, baselines publish the same messages (built by the relay's
own _messages) to the same exchange:
  - bare confirmed:   SelectConnection + confirm_delivery, a window of --window unconfirmed messages
                      refilled from the confirm callback (pika's "asynchronous publisher" pattern),
  - bare no confirms: BlockingConnection.basic_publish in a loop (the upper bound, not safe),
  - blocking confirm: BlockingChannel.confirm_delivery(), one round trip per message (5,000 only).
Bare confirmed and relay runs alternate --repeat times and the best of each is compared (the
broker's disk and a shared machine make single runs noisy; every run is printed). The queue is
purged between runs; its message count is checked after each run, and after each relay run every
outbox row must be marked sent. --profile runs one more drain under cProfile.
Uses BENCH_RELAY_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/contacts_bench_relay)
and BENCH_RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672/%2F).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_RELAY_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/contacts_bench_relay"
)
os.environ["RABBITMQ_URL"] = os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-" + "x" * 40)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "contacts_service.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402
import pika  # noqa: E402

TARGET_RATIO = 0.7
EVENTS_PER_CONTACT = 10  # default --per-contact: sequence 1..10 per aggregate, in a row

# One statement: N pending rows, envelopes shaped like event_record's (~600 bytes as payload::text).
SEED_SQL = """
INSERT INTO events_outboxevent (tenant_id, event_id, event_type, aggregate_type, aggregate_id, sequence,
                                payload, created_at, sent_at, attempts, last_error)
SELECT %(tenant)s, s.eid, s.etype, 'contact', s.agg, s.seq,
       jsonb_build_object(
           'event_id', s.eid, 'event_type', s.etype, 'version', 1,
           'occurred_at', to_char(s.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
           'tenant_id', %(tenant)s::text, 'source', 'contacts-service',
           'correlation_id', md5(s.g::text), 'aggregate_type', 'contact', 'aggregate_id', s.agg,
           'sequence', s.seq,
           'actor', jsonb_build_object('type', 'api_key', 'id', %(actor)s::text, 'label', 'crm-sync'),
           'data', jsonb_build_object(
               'contact_id', s.agg,
               'changes', jsonb_build_object(
                   'city', jsonb_build_object('old', 'City ' || (s.g %% 300), 'new', 'City ' || ((s.g + 1) %% 300))
               )
           )
       ),
       s.at, NULL, 0, ''
FROM (
    SELECT g, gen_random_uuid() AS eid,
           (ARRAY['contact.updated', 'contact.tagged', 'contact.added_to_list'])[1 + g %% 3] AS etype,
           md5('bench-relay-' || (g / %(k)s))::uuid AS agg,
           (g %% %(k)s) + 1 AS seq,
           now() - make_interval(secs => (%(n)s - g) * 0.001) AS at
    FROM generate_series(0, %(n)s - 1) AS g
) AS s
"""

ROWS_SQL = """
    SELECT id, event_id::text, event_type, tenant_id::text, payload::text,
           floor(extract(epoch FROM created_at))::bigint
    FROM events_outboxevent WHERE sent_at IS NULL ORDER BY id
"""  # the relay's claim columns (events.relay._CLAIM_SQL), without the lock


def ensure_database(url: str) -> None:
    """Like bench.contacts_api.ensure_database; not imported from there because importing that
    module points DATABASE_URL at the contacts_bench database."""
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    with psycopg.connect(parsed._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


# -- broker helpers -----------------------------------------------------------------------------


@contextmanager
def admin_channel(url: str):
    """A short-lived BlockingConnection for topology/purge/count (a long-lived idle one would miss
    heartbeats while a run is in progress)."""
    from events.broker import connection_parameters

    conn = pika.BlockingConnection(connection_parameters(url))
    try:
        yield conn.channel()
    finally:
        conn.close()


def queue_count(url: str, queue: str, expected: int | None = None, wait: float = 5.0) -> int:
    deadline = time.monotonic() + wait
    while True:
        with admin_channel(url) as channel:
            count = channel.queue_declare(queue, passive=True).method.message_count
        if expected is None or count == expected or time.monotonic() > deadline:
            return count
        time.sleep(0.1)


def purge(url: str, queue: str) -> None:
    with admin_channel(url) as channel:
        channel.queue_purge(queue)


class AsyncConfirmedPublisher:
    """pika's asynchronous publisher pattern: publish up to `window` unconfirmed messages, refill
    from the confirm callback, stop when everything is confirmed."""

    def __init__(self, url: str, exchange: str, messages: list, window: int):
        from events.broker import connection_parameters

        self.params = connection_parameters(url)
        self.exchange, self.messages, self.window = exchange, messages, window
        self.sent = self.acked = self.nacked = 0
        self.unconfirmed: set[int] = set()
        self.low = 1  # every tag below this one is confirmed
        self.started = self.finished = 0.0
        self.error: str | None = None
        self.closing = False
        self.conn = None
        self.channel = None

    def run(self) -> float:
        self.conn = pika.SelectConnection(
            self.params,
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_open_error_callback=lambda _c, exc: self._stop(f"cannot connect: {exc!r}"),
            on_close_callback=self._on_closed,
        )
        self.conn.ioloop.start()
        if self.error:
            raise RuntimeError(self.error)
        return self.finished - self.started

    def _stop(self, error: str | None = None) -> None:
        self.error = self.error or error
        self.closing = True
        if self.conn.is_open:
            self.conn.close()
        else:
            self.conn.ioloop.stop()

    def _on_closed(self, _conn, exc) -> None:
        if not self.closing:
            self.error = self.error or f"connection closed: {exc!r}"
        self.conn.ioloop.stop()

    def _on_channel(self, channel) -> None:
        self.channel = channel
        channel.add_on_close_callback(lambda _ch, exc: self.closing or self._stop(f"channel closed: {exc!r}"))
        channel.confirm_delivery(self._on_confirm, callback=self._on_confirm_mode)

    def _on_confirm_mode(self, _frame) -> None:
        self.started = time.perf_counter()
        self._fill()

    def _fill(self) -> None:
        publish, exchange, messages = self.channel.basic_publish, self.exchange, self.messages
        while self.sent < len(messages) and len(self.unconfirmed) < self.window:
            message = messages[self.sent]
            publish(exchange, message.routing_key, message.body, message.properties)
            self.sent += 1
            self.unconfirmed.add(self.sent)

    def _on_confirm(self, frame) -> None:
        method = frame.method
        tag, before = method.delivery_tag, len(self.unconfirmed)
        if method.multiple:
            for t in range(self.low, tag + 1):
                self.unconfirmed.discard(t)
            self.low = max(self.low, tag + 1)
        else:
            self.unconfirmed.discard(tag)
        done = before - len(self.unconfirmed)
        if isinstance(method, pika.spec.Basic.Ack):
            self.acked += done
        else:
            self.nacked += done
        if self.sent < len(self.messages):
            self._fill()
        elif not self.unconfirmed:
            self.finished = time.perf_counter()
            self._stop()


def bare_confirmed(url: str, exchange: str, messages: list, window: int) -> float:
    publisher = AsyncConfirmedPublisher(url, exchange, messages, window)
    seconds = publisher.run()
    assert publisher.acked == len(messages), (publisher.acked, publisher.nacked)
    return seconds


def bare_blocking(url: str, exchange: str, queue: str, messages: list, *, confirm: bool) -> float:
    from events.broker import connection_parameters

    conn = pika.BlockingConnection(connection_parameters(url))
    try:
        channel = conn.channel()
        if confirm:
            channel.confirm_delivery()  # basic_publish now waits for each message's confirm
        started = time.perf_counter()
        for message in messages:
            channel.basic_publish(exchange, message.routing_key, message.body, message.properties)
        # a synchronous round trip on the same channel: the broker has handled every publish before it
        channel.queue_declare(queue, passive=True)
        return time.perf_counter() - started
    finally:
        conn.close()


# -- database helpers ---------------------------------------------------------------------------


def reseed(tenant_id, count: int, per_contact: int = EVENTS_PER_CONTACT) -> float:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE events_outboxevent RESTART IDENTITY")
        cursor.execute(
            SEED_SQL, {"tenant": tenant_id, "actor": str(uuid.uuid4()), "k": per_contact, "n": count}
        )
        assert cursor.rowcount == count, cursor.rowcount
        cursor.execute("VACUUM ANALYZE events_outboxevent")
    return time.perf_counter() - started


def outbox_counts() -> tuple[int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE sent_at IS NULL) FROM events_outboxevent"
        )
        return cursor.fetchone()


# -- relay --------------------------------------------------------------------------------------


def relay_publisher_class():
    from events.relay import ConfirmingPublisher

    class TimedPublisher(ConfirmingPublisher):
        """ConfirmingPublisher that adds up the time spent waiting for confirms (the rest of a batch,
        claim, build and send, mark sent, commit, overlaps the broker's work on the previous batch)."""

        publish_seconds = 0.0

        def confirm(self, result):
            started = time.perf_counter()
            try:
                return super().confirm(result)
            finally:
                self.publish_seconds += time.perf_counter() - started

    return TimedPublisher


def run_relay(url: str, exchange: str, batch_size: int, profile: cProfile.Profile | None = None):
    from events.relay import OutboxRelay

    publisher = relay_publisher_class()(url=url, exchange=exchange)
    publisher.open()  # connect outside the timing, like the baselines
    relay = OutboxRelay(batch_size=batch_size, publisher=publisher)
    try:
        started = time.perf_counter()
        if profile is not None:
            profile.enable()
        published = relay.drain()
        if profile is not None:
            profile.disable()
        seconds = time.perf_counter() - started
    finally:
        publisher.close()
    return published, seconds, publisher.publish_seconds, relay.stats


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument(
        "--batch-size", type=int, nargs="+", default=[1000], help="one or more, e.g. 500 1000 2000"
    )
    parser.add_argument(
        "--window", type=int, default=1000, help="bare confirmed publisher: unconfirmed window"
    )
    parser.add_argument("--blocking-confirm-messages", type=int, default=5000)
    parser.add_argument(
        "--repeat", type=int, default=2, help="rounds of bare confirmed + relay; best is kept"
    )
    parser.add_argument("--profile", action="store_true", help="one more relay drain under cProfile")
    parser.add_argument(
        "--per-contact", type=int, default=EVENTS_PER_CONTACT,
        help="consecutive events per contact (the relay sends a contact's next event once the one "
        "before is confirmed: 1 = every batch in one round)",
    )  # fmt: skip
    args = parser.parse_args()

    ensure_database(os.environ["DATABASE_URL"])
    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from contacts_service.models import Tenant
    from events.broker import declare_topology

    call_command("migrate", verbosity=0)
    tenant = Tenant.objects.filter(name="bench-relay").first() or Tenant.objects.create(name="bench-relay")
    url = settings.RABBITMQ_URL
    exchange = f"bench.contacts.events.{uuid.uuid4().hex[:10]}"
    queue = f"{exchange}.all"
    settings.EVENTS_EXCHANGE = exchange

    try:
        with admin_channel(url) as channel:
            declare_topology(channel, exchange)
            channel.queue_declare(queue, durable=True)
            channel.queue_bind(queue, exchange, routing_key="#")
            server = channel.connection._impl.server_properties
        print(
            f"RabbitMQ {server.get('version', '?')}, exchange {exchange}, queue {queue}; "
            f"PostgreSQL {os.environ['DATABASE_URL'].rsplit('/', 1)[-1]}"
        )
        run_all(args, tenant, url, exchange, queue)
    finally:
        with admin_channel(url) as channel:
            for name in (queue, f"{exchange}.unroutable", f"{exchange}.dead-letter"):
                channel.queue_delete(name)
            for name in (exchange, f"{exchange}.unroutable", f"{exchange}.dlx"):
                channel.exchange_delete(name)


def run_all(args, tenant, url: str, exchange: str, queue: str) -> None:
    from django.db import connection

    from events.relay import _messages

    n = args.events
    runs: dict[str, list[tuple[int, float, float]]] = {}  # name -> [(messages, seconds, client cpu seconds)]
    splits: dict[int, list[tuple[float, float, object]]] = {}  # batch -> [(seconds, publish seconds, stats)]
    checks: list[tuple[str, bool]] = []

    def check(label: str, ok: bool) -> None:
        checks.append((label, ok))
        print(f"    check {'OK  ' if ok else 'FAIL'} {label}", flush=True)

    def measure(name: str, count: int, fn) -> float:
        cpu = time.process_time()
        seconds = fn()
        cpu = time.process_time() - cpu
        runs.setdefault(name, []).append((count, seconds, cpu))
        print(f"  {name:34} {count:>9,} {seconds:>7.2f}s {count / seconds:>9,.0f} msg/s", flush=True)
        return seconds

    seconds = reseed(tenant.pk, n, args.per_contact)
    print(f"seeded {n:,} pending outbox rows in {seconds:.1f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute(ROWS_SQL)
        messages = list(_messages(cursor.fetchall()))
        cursor.execute("SELECT avg(octet_length(payload::text))::int FROM events_outboxevent")
        print(f"average body {cursor.fetchone()[0]} bytes, persistent, with headers", flush=True)

    # warm-up (connections, queue process, message store), not timed
    bare_confirmed(url, exchange, messages[:5000], args.window)
    purge(url, queue)

    confirmed_name = f"bare confirmed, window {args.window}"
    for rep in range(args.repeat):
        print(f"round {rep + 1}/{args.repeat}", flush=True)
        measure(confirmed_name, n, lambda: bare_confirmed(url, exchange, messages, args.window))
        check(f"queue holds {n:,} messages", queue_count(url, queue, n) == n)
        purge(url, queue)

        if rep == 0:
            measure(
                "bare blocking, no confirms",
                n,
                lambda: bare_blocking(url, exchange, queue, messages, confirm=False),
            )
            check(f"queue holds {n:,} messages", queue_count(url, queue, n) == n)
            purge(url, queue)

            if args.blocking_confirm_messages:
                few = messages[: args.blocking_confirm_messages]
                measure(
                    "bare blocking, confirm each",
                    len(few),
                    lambda few=few: bare_blocking(url, exchange, queue, few, confirm=True),
                )
                check(f"queue holds {len(few):,} messages", queue_count(url, queue, len(few)) == len(few))
                purge(url, queue)

        for batch_size in args.batch_size:
            if outbox_counts() != (0, n):
                reseed(tenant.pk, n, args.per_contact)
            result = {}

            def drain(batch_size=batch_size, result=result):
                result["published"], seconds, result["publish"], result["stats"] = run_relay(
                    url, exchange, batch_size
                )
                return seconds

            seconds = measure(f"relay drain, batch {batch_size}", n, drain)
            stats = result["stats"]
            splits.setdefault(batch_size, []).append((seconds, result["publish"], stats))
            sent, unsent = outbox_counts()
            check(
                f"relay published {result['published']:,} of {n:,} in {stats.batches} batches, nacked {stats.nacked}",
                result["published"] == n and stats.nacked == 0,
            )
            check(f"outbox rows marked sent {sent:,}, still pending {unsent:,}", sent == n and unsent == 0)
            got = queue_count(url, queue, n)
            check(f"queue received {got:,} messages (expected {n:,})", got == n)
            purge(url, queue)

    def best(name: str) -> tuple[int, float, float]:
        return min(runs[name], key=lambda run: run[1] / run[0])

    count, seconds, _ = best(confirmed_name)
    confirmed = count / seconds
    print(f"\n{n:,} outbox events, best of {args.repeat} (queue purged between runs; exchange {exchange})")
    print(
        f"{'publisher':34} {'messages':>9} {'seconds':>8} {'msg/s':>9} {'client cpu':>10} "
        f"{'vs bare confirmed':>18}   all runs msg/s"
    )
    for name in runs:
        count, seconds, cpu = best(name)
        rate = count / seconds
        every = ", ".join(f"{c / s:,.0f}" for c, s, _ in runs[name])
        print(
            f"{name:34} {count:>9,} {seconds:>8.2f} {rate:>9,.0f} {cpu:>9.2f}s {rate / confirmed:>17.2f}x   {every}"
        )
    print(
        "\nrelay time split, best run (waiting = for the previous batch's confirms; rest = claim, build and send, "
        "mark sent, commit):"
    )
    for batch_size, entries in splits.items():
        seconds, publish_seconds, stats = min(entries, key=lambda entry: entry[0])
        print(
            f"  batch {batch_size:>5}: {stats.batches} batches, {seconds / stats.batches * 1000:.1f} ms/batch: "
            f"waiting {publish_seconds:.2f}s ({publish_seconds / seconds:.0%}), "
            f"rest {seconds - publish_seconds:.2f}s ({(seconds - publish_seconds) / seconds:.0%})"
        )
    relay_rate = max(best(name)[0] / best(name)[1] for name in runs if name.startswith("relay"))
    ratio = relay_rate / confirmed
    verdict = "meets" if ratio >= TARGET_RATIO else "is BELOW"
    print(
        f"\nrelay best {relay_rate:,.0f} msg/s = {ratio:.3f}x bare confirmed {confirmed:,.0f} msg/s: "
        f"{verdict} the {TARGET_RATIO}x target"
    )

    if args.profile:
        reseed(tenant.pk, n, args.per_contact)
        profile = cProfile.Profile()
        batch_size = args.batch_size[0]
        published, seconds, _, _ = run_relay(url, exchange, batch_size, profile)
        purge(url, queue)
        print(
            f"\ncProfile of one relay drain (batch {batch_size}, {published:,} events, {seconds:.2f}s under the profiler):"
        )
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        stats.sort_stats("tottime").print_stats(20)
        stats.sort_stats("cumulative").print_stats(25)
        print(out.getvalue())

    failed = [label for label, ok in checks if not ok]
    print(f"all {len(checks)} checks passed" if not failed else f"FAILED checks: {failed}")
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()

"""The outbox relay: publish unsent outbox rows to RabbitMQ, mark them sent only once confirmed.

Publishing:

    1. pg_try_advisory_lock (session): one publisher at a time, so each contact's events leave in
       outbox id order (which follows its sequence: its writers take the contact's row lock); a
       second relay or the Celery straggler task waits its turn instead of interleaving;
    2. each transaction claims a batch (SELECT ... WHERE sent_at IS NULL ORDER BY id LIMIT n FOR
       UPDATE SKIP LOCKED, leaving out the batch in flight) and sends it persistent, message_id =
       event_id, without waiting; then waits for the broker's confirms of the previous batch and
       marks those rows sent (nacked ones keep sent_at NULL with the error), and commits. So the
       database work overlaps the broker's, and no message waits for its own confirm (pika's
       BlockingChannel would, ~700 msg/s). Except where a contact has several events in the batch
       (or one in the batch still in flight): see _waves.

A crash anywhere before the commit leaves the rows unsent: they are published again (same
event_id, so consumers drop the duplicate). Nothing confirmed is published twice in the normal case.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pika
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from pika.adapters.select_connection import SelectConnection
from pika.spec import Basic

from contacts_service import metrics
from events.broker import connection_parameters

logger = logging.getLogger(__name__)

RELAY_LOCK_KEY = 0x636F6E74  # "cont": pg advisory lock held by the publishing relay for one batch


class BrokerUnavailable(Exception):
    """RabbitMQ could not be reached, closed the connection, or did not confirm in time."""


@dataclass
class Message:
    routing_key: str
    body: bytes
    properties: pika.BasicProperties


@dataclass
class PublishResult:
    """Outcome of one sent batch; complete once `outstanding` is 0 or `error` is set."""

    size: int = 0
    acked: list[int] = field(default_factory=list)  # indexes into the batch
    nacked: list[int] = field(default_factory=list)
    outstanding: int = 0
    error: BrokerUnavailable | None = None  # set when some messages will never be confirmed
    started: float = field(default_factory=time.perf_counter)  # for the batch's duration_ms

    @property
    def unconfirmed(self) -> list[int]:
        return sorted(set(range(self.size)) - set(self.acked) - set(self.nacked))


class ConfirmingPublisher:
    """A blocking facade over pika's asynchronous SelectConnection: publish a batch, then wait for
    the broker's confirms of all of it. The caller drives the I/O loop; no threads."""

    def __init__(self, url: str | None = None, exchange: str | None = None, timeout: float | None = None):
        self.url = url or settings.RABBITMQ_URL
        self.exchange = exchange or settings.EVENTS_EXCHANGE
        self.timeout = timeout or settings.EVENTS_RELAY_CONFIRM_TIMEOUT_SECONDS
        self._conn: SelectConnection | None = None
        self._channel = None
        self._error: str | None = None
        self._next_tag = 0
        self._pending: dict[int, tuple[PublishResult, int]] = {}  # delivery tag -> (batch, index)

    @property
    def is_open(self) -> bool:
        return self._channel is not None and self._channel.is_open and self._error is None

    def open(self) -> None:
        self._error, self._channel, self._next_tag, self._pending = None, None, 0, {}
        self._conn = SelectConnection(
            connection_parameters(self.url),
            on_open_callback=lambda conn: conn.channel(on_open_callback=self._on_channel),
            on_open_error_callback=lambda _conn, exc: self._fail(f"cannot connect: {exc!r}"),
            on_close_callback=lambda _conn, exc: self._fail(f"connection closed: {exc!r}"),
        )
        self._conn.ioloop.activate_poller()  # we drive the loop ourselves (poll + process_timeouts)
        self._pump(lambda: self.is_open, what="connect")

    def _on_channel(self, channel) -> None:
        channel.add_on_close_callback(lambda _ch, exc: self._fail(f"channel closed: {exc!r}"))
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: setattr(self, "_channel", channel))

    def _fail(self, reason: str) -> None:
        self._error = self._error or reason

    def _on_confirm(self, frame) -> None:
        method = frame.method
        tags = (
            [t for t in self._pending if t <= method.delivery_tag]
            if method.multiple
            else [method.delivery_tag]
        )
        acked = isinstance(method, Basic.Ack)
        for tag in tags:
            entry = self._pending.pop(tag, None)
            if entry is not None:
                result, index = entry
                (result.acked if acked else result.nacked).append(index)
                result.outstanding -= 1

    def _pump(self, done: Callable[[], bool], *, what: str) -> None:
        deadline = time.monotonic() + self.timeout
        ioloop = self._conn.ioloop
        while not done():
            if self._error:
                raise BrokerUnavailable(self._error)
            if time.monotonic() > deadline:
                raise BrokerUnavailable(f"no answer from RabbitMQ within {self.timeout:g}s ({what})")
            ioloop.poll()
            ioloop.process_timeouts()

    FLUSH_EVERY = 200  # messages between I/O steps while sending

    def send(self, messages: Iterable[Message]) -> PublishResult:
        """Publish a batch without waiting for its confirms (see confirm()). Frames go out, and
        confirms of earlier batches come back, every FLUSH_EVERY messages, so the broker works while
        the batch is still being built. Never raises: a failure is in the result's `error`."""
        result = PublishResult()
        try:
            if not self.is_open:
                raise BrokerUnavailable(self._error or "not connected")
            ioloop = self._conn.ioloop
            for index, message in enumerate(messages):
                self._channel.basic_publish(
                    self.exchange, message.routing_key, message.body, message.properties
                )
                self._next_tag += 1
                self._pending[self._next_tag] = (result, index)
                result.size += 1
                result.outstanding += 1
                if index % self.FLUSH_EVERY == self.FLUSH_EVERY - 1:
                    ioloop.poll()  # returns at once: there is output to write
                    ioloop.process_timeouts()
                    if self._error:
                        raise BrokerUnavailable(self._error)
            if result.size % self.FLUSH_EVERY:
                ioloop.poll()  # write the tail now, not at the next batch
                ioloop.process_timeouts()
        except BrokerUnavailable as exc:
            result.error = exc
        except (pika.exceptions.AMQPError, OSError) as exc:
            self._fail(repr(exc))
            result.error = BrokerUnavailable(repr(exc))
        return result

    def confirm(self, result: PublishResult) -> PublishResult:
        """Wait until every message of a sent batch is acked or nacked, or the broker fails."""
        if result.error is None:
            try:
                self._pump(lambda: result.outstanding <= 0, what="confirms")
            except BrokerUnavailable as exc:
                result.error = exc
            except (pika.exceptions.AMQPError, OSError) as exc:
                self._fail(repr(exc))
                result.error = BrokerUnavailable(repr(exc))
        return result

    def publish(self, messages: Iterable[Message]) -> PublishResult:
        """Send a batch and wait for its confirms."""
        return self.confirm(self.send(messages))

    def wait(self, seconds: float) -> None:
        """Idle for `seconds` while keeping the connection serviced (heartbeats, close frames)."""
        if self._conn is None or self._conn.is_closed:
            time.sleep(seconds)
            return
        deadline = time.monotonic() + seconds
        self._conn.ioloop.call_later(seconds, lambda: None)  # wakes poll() at the deadline
        while time.monotonic() < deadline and not self._conn.is_closed:
            self._conn.ioloop.poll()
            self._conn.ioloop.process_timeouts()

    def close(self) -> None:
        conn, self._conn, self._channel = self._conn, None, None
        if conn is None:
            return
        if conn.is_closed:
            conn.ioloop.close()
            return
        try:
            if not conn.is_closing:
                conn.close()
            deadline = time.monotonic() + 2
            while not conn.is_closed and time.monotonic() < deadline:
                conn.ioloop.poll()
                conn.ioloop.process_timeouts()
        except Exception:  # closing a broken connection must not raise
            logger.debug("error while closing the RabbitMQ connection", exc_info=True)
        finally:
            conn.ioloop.close()


_CLAIM_SQL = """
    SELECT id, event_id::text, event_type, tenant_id::text, payload::text,
           floor(extract(epoch FROM created_at))::bigint, payload->>'correlation_id', aggregate_id
    FROM events_outboxevent
    WHERE sent_at IS NULL AND NOT (id = ANY(%s))
    ORDER BY id
    LIMIT %s
    FOR UPDATE SKIP LOCKED
"""


_AGGREGATE = 7  # the claimed row's aggregate_id

# Contacts of a claimed batch with an earlier event still unsent that the claim did not take (SKIP
# LOCKED passed it: another transaction holds it, e.g. a replay or an erasure rewriting it) and that
# is not in flight: a plain read sees it whatever its lock.
_EARLIER_UNSENT_SQL = """
    SELECT c.aggregate_id FROM unnest(%s::uuid[], %s::bigint[]) AS c(aggregate_id, first_id)
    WHERE EXISTS (
        SELECT 1 FROM events_outboxevent o
        WHERE o.aggregate_id = c.aggregate_id AND o.sent_at IS NULL AND o.id < c.first_id
          AND NOT (o.id = ANY(%s))
    )
"""


def _not_overtaking(cursor, rows: list[tuple], in_flight: list[int]) -> list[tuple]:
    """The claimed rows without those of contacts whose earlier event the claim skipped: they wait
    (claimed again by a later batch) rather than leave before it."""
    first: dict[Any, int] = {}
    for row in rows:
        first.setdefault(row[_AGGREGATE], row[0])
    cursor.execute(_EARLIER_UNSENT_SQL, [list(first), list(first.values()), in_flight])
    held = {aggregate for (aggregate,) in cursor.fetchall()}
    if held:
        logger.info("%d contacts' events wait for an earlier event another transaction holds", len(held))
    return [row for row in rows if row[_AGGREGATE] not in held] if held else rows


def _waves(rows: list[tuple]) -> list[list[tuple]]:
    """A claimed batch (id order) as publishing rounds: round n holds the n-th event of each aggregate
    in the batch, so no event goes out before the earlier ones of its contact are confirmed. Were they
    sent together and the broker refused one (a nack) but took a later one, a consumer would get
    sequence 3 before 2 and, holding 3, drop 2 for good. A batch of different contacts is one round."""
    waves: list[list[tuple]] = []
    seen: dict[Any, int] = {}
    for row in rows:
        n = seen.get(row[_AGGREGATE], 0)
        seen[row[_AGGREGATE]] = n + 1
        if n == len(waves):
            waves.append([])
        waves[n].append(row)
    return waves


def _messages(rows) -> Iterator[Message]:
    """AMQP messages of claimed rows (built lazily, while earlier ones are being sent)."""
    app_id = settings.EVENTS_SOURCE
    for _id, event_id, event_type, tenant_id, payload, created_epoch, *_log_columns in rows:
        yield Message(
            routing_key=event_type,
            body=payload.encode(),
            properties=pika.BasicProperties(
                content_type="application/json",
                delivery_mode=2,  # persistent
                message_id=event_id,
                type=event_type,
                app_id=app_id,
                timestamp=created_epoch,
                headers={"tenant_id": tenant_id, "event_type": event_type},
            ),
        )


@dataclass
class RelayStats:
    published: int = 0
    nacked: int = 0
    batches: int = 0


class OutboxRelay:
    """Publishes the outbox. `drain()` until nothing is pending; `run()` forever (manage.py relay_events)."""

    def __init__(
        self, *, url: str | None = None, exchange: str | None = None, batch_size: int | None = None,
        publisher: ConfirmingPublisher | None = None,
    ) -> None:  # fmt: skip
        # Settings refuse an EVENTS_RELAY_BATCH_SIZE below 1 at start-up; never claim LIMIT 0 (nothing,
        # forever) from a value set later (override_settings) either.
        self.batch_size = max(1, batch_size or settings.EVENTS_RELAY_BATCH_SIZE)
        self.publisher = publisher or ConfirmingPublisher(url=url, exchange=exchange)
        self.stats = RelayStats()
        self.stop = threading.Event()
        self._down_since: dict[str, float] = {}  # dependency (RabbitMQ, PostgreSQL) -> when it went down
        self._backoff = 0.0
        self._last_prune = time.monotonic()  # first prune 10 minutes in, never during start-up
        self._passed: list[int] = []

    # -- batches ----------------------------------------------------------------------------------

    def _claim(self, cursor, exclude: list[int]) -> list[tuple]:
        """The next batch to publish. A batch whose every row waits (held back: see _not_overtaking)
        is passed over, the claim going on behind it, rather than read as "nothing pending", which
        ended the drain with other contacts' events still unsent."""
        passed = self._passed  # for the whole drain: a held row is not claimed again by every batch
        while True:
            cursor.execute(_CLAIM_SQL, [[*exclude, *passed], self.batch_size])
            claimed = cursor.fetchall()
            if not claimed or not settings.EVENTS_RELAY_ORDERED_ROUNDS:
                return claimed
            rows = _not_overtaking(cursor, claimed, exclude)
            if len(rows) < len(claimed):
                kept = {row[0] for row in rows}
                passed.extend(row[0] for row in claimed if row[0] not in kept)
            if rows:
                return rows

    def _settle(self, cursor, rows: list[tuple], result: PublishResult) -> None:
        """Wait for a sent batch's confirms; mark the acked rows sent, count an attempt on the rest."""
        self.publisher.confirm(result)
        if result.acked:
            cursor.execute(
                "UPDATE events_outboxevent SET sent_at = now(), attempts = attempts + 1, last_error = '' "
                "WHERE id = ANY(%s)",
                [[rows[i][0] for i in result.acked]],
            )
        failed = result.nacked + (result.unconfirmed if result.error is not None else [])
        if failed:
            reason = str(result.error) if result.error is not None else "nacked by RabbitMQ"
            cursor.execute(
                "UPDATE events_outboxevent SET attempts = attempts + 1, last_error = %s WHERE id = ANY(%s)",
                [reason[:1000], [rows[i][0] for i in failed]],
            )
        self.stats.published += len(result.acked)
        self.stats.nacked += len(result.nacked)
        self.stats.batches += 1
        _observe_batch(rows, result, failed)

    def _lock(self, cursor, wait: bool) -> bool:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [RELAY_LOCK_KEY])
            if cursor.fetchone()[0]:
                return True
            if not wait or self.stop.is_set():
                return False
            self.publisher.wait(0.05)  # keeps heartbeats going while another relay publishes

    # -- loops -------------------------------------------------------------------------------------

    def drain(self, *, max_seconds: float | None = None, wait_for_lock: bool = True) -> int:
        """Publish until nothing is pending or max_seconds passed. While another relay holds the
        publishing lock, wait for it (or return at once with wait_for_lock=False).
        Raises BrokerUnavailable after recording what was confirmed. Returns how many were published.

        Pipelined: each transaction claims (and sends) batch k+1, then waits for the confirms of
        batch k and marks it sent, so the database work overlaps the broker's. The session advisory
        lock keeps every other publisher out meanwhile; rows of the batch in flight are excluded
        from the next claim."""
        started, before = time.monotonic(), self.stats.published
        self._passed: list[int] = []  # rows held back (see _claim), left for the next drain
        if not self.publisher.is_open:
            self.publisher.close()
            self.publisher.open()
        with connection.cursor() as cursor:
            if not self._lock(cursor, wait_for_lock):
                return 0
            in_flight: tuple[list[tuple], PublishResult] | None = None
            try:
                while True:
                    done = self.stop.is_set() or (
                        max_seconds is not None and time.monotonic() - started > max_seconds
                    )
                    refused: PublishResult | None = None  # a round of this batch with a nack or error
                    with transaction.atomic():
                        rows = (
                            []
                            if done
                            else self._claim(cursor, [r[0] for r in in_flight[0]] if in_flight else [])
                        )
                        ordered = settings.EVENTS_RELAY_ORDERED_ROUNDS
                        waves = _waves(rows) if ordered else [rows] if rows else []
                        if ordered and in_flight is not None and rows:
                            flying = {row[_AGGREGATE] for row in in_flight[0]}
                            if any(row[_AGGREGATE] in flying for row in rows):
                                # Later events of contacts in flight: their confirms first (see _waves).
                                self._settle(cursor, *in_flight)
                                refused = in_flight[1] if in_flight[1].nacked or in_flight[1].error else None
                                in_flight = None
                                waves = [] if refused else waves
                        while len(waves) > 1:  # every round but the last waits for its confirms
                            wave = waves.pop(0)
                            result = self.publisher.send(_messages(wave))
                            self._settle(cursor, wave, result)
                            if result.nacked or result.error:  # the later rounds stay pending, in order
                                refused, waves = result, []
                        rows = waves[0] if waves else []
                        sent = self.publisher.send(_messages(rows)) if rows else None
                        if in_flight is not None:
                            self._settle(cursor, *in_flight)
                    failed = (
                        (in_flight[1].error if in_flight else None)
                        or (sent.error if sent else None)
                        or (refused.error if refused else None)
                    )
                    nacked = (in_flight[1].nacked if in_flight else []) or (refused.nacked if refused else [])
                    if failed is None and nacked:
                        # The broker refuses (e.g. a full queue with reject-publish): back off instead
                        # of re-sending those rows in a tight loop.
                        failed = BrokerUnavailable(f"RabbitMQ nacked {len(nacked)} messages")
                    in_flight = (rows, sent) if rows else None
                    if failed is not None:
                        raise failed
                    if in_flight is None:
                        break
            finally:
                try:
                    if (
                        in_flight is not None
                    ):  # an error left a sent batch unsettled: record what was confirmed
                        with transaction.atomic():
                            self._settle(cursor, *in_flight)
                finally:
                    try:
                        cursor.execute("SELECT pg_advisory_unlock(%s)", [RELAY_LOCK_KEY])
                    except DatabaseError:  # the connection is gone, and the session lock with it
                        logger.debug("could not release the relay lock", exc_info=True)
        return self.stats.published - before

    def run(self, *, once: bool = False) -> None:
        """Publish forever (or until drained with once=True), riding out RabbitMQ outages with
        backoff. The outage is logged once when it starts and once when it ends."""
        while not self.stop.is_set():
            try:
                self.drain()
                self._recovered()
                if once or self.stop.is_set():
                    return
                self._prune_if_due()
                self.publisher.wait(settings.EVENTS_RELAY_IDLE_SECONDS)
            except BrokerUnavailable as exc:
                self.publisher.close()
                self._outage(exc)
                self.stop.wait(self._backoff)
            except DatabaseError as exc:  # PostgreSQL restarting: rows wait; reconnect and go on
                connection.close()
                self._outage(exc, what="PostgreSQL")
                self.stop.wait(self._backoff)

    def _outage(self, exc: Exception, what: str = "RabbitMQ") -> None:
        """Each dependency's outage is counted and logged when it starts, also while the other one is
        down (one start time for both hid a PostgreSQL outage begun during a RabbitMQ one)."""
        if what == "PostgreSQL" and "RabbitMQ" in self._down_since:
            # drain() opens the publisher before it reads the outbox: RabbitMQ answered this round.
            since = self._down_since.pop("RabbitMQ")
            logger.warning("RabbitMQ reachable again after %.1fs", time.monotonic() - since)
        if what not in self._down_since:
            self._down_since[what] = time.monotonic()
            metrics.RELAY_OUTAGES.labels(what).inc()
            logger.warning("%s unavailable (%s); events wait in the outbox, retrying with backoff", what, exc)
        else:
            logger.debug("%s still unavailable: %s", what, exc)
        self._backoff = min(max(self._backoff * 2, 0.5), settings.EVENTS_RELAY_MAX_BACKOFF_SECONDS)

    def _recovered(self) -> None:
        """A round went through: each dependency that was down is logged back, by name."""
        for what, since in self._down_since.items():
            logger.warning("%s reachable again after %.1fs; relaying resumed", what, time.monotonic() - since)
        self._down_since, self._backoff = {}, 0.0

    def _prune_if_due(self) -> None:
        if time.monotonic() - self._last_prune > 600:
            self._last_prune = time.monotonic()
            outbox_prune()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())


LOGGED_IDS = 200  # correlation / tenant ids on one log line of a batch; more go on lines of their own


def _observe_batch(rows: list[tuple], result: PublishResult, failed: list[int]) -> None:
    """One log line and the metrics of a settled batch: which requests' events (correlation ids) it
    published; at DEBUG also one line per confirmed event with its own correlation and tenant id."""
    seconds = time.perf_counter() - result.started
    unconfirmed = len(failed) - len(result.nacked)
    metrics.relay_batch_observe(
        published=len(result.acked), nacked=len(result.nacked), unconfirmed=unconfirmed, seconds=seconds
    )
    acked = [rows[i] for i in sorted(result.acked)]
    correlation_ids = list(dict.fromkeys(row[6] or "-" for row in acked))
    tenant_ids = list(dict.fromkeys(row[3] for row in acked))
    level = logging.WARNING if failed else logging.INFO
    # Every correlation id is logged (following a request needs its own), LOGGED_IDS a line: a batch of
    # 1000 events from as many requests on one line was 40 KB, which log shippers split (Docker's
    # json-file driver at 16 KB), breaking the line's JSON.
    logger.log(
        level,
        "published %d event(s), %d nacked, %d unconfirmed",
        len(acked),
        len(result.nacked),
        unconfirmed,
        extra={
            "published": len(acked),
            "nacked": len(result.nacked),
            "unconfirmed": unconfirmed,
            "correlation_ids": correlation_ids[:LOGGED_IDS],
            "tenant_ids": tenant_ids[:LOGGED_IDS],
            "first_event_id": acked[0][1] if acked else None,
            "last_event_id": acked[-1][1] if acked else None,
            "duration_ms": round(seconds * 1000, 2),
        },
    )
    for start in range(LOGGED_IDS, max(len(correlation_ids), len(tenant_ids)), LOGGED_IDS):
        logger.log(
            level,
            "published batch continued: correlation and tenant ids %d-%d",
            start + 1,
            start + LOGGED_IDS,
            extra={
                "correlation_ids": correlation_ids[start : start + LOGGED_IDS],
                "tenant_ids": tenant_ids[start : start + LOGGED_IDS],
                "first_event_id": acked[0][1],
            },
        )
    if logger.isEnabledFor(logging.DEBUG):
        for row in acked:
            logger.debug(
                "published %s %s",
                row[2],
                row[1],
                extra={
                    "event_id": row[1],
                    "event_type": row[2],
                    "tenant_id": row[3],
                    "correlation_id": row[6],
                },
            )


def outbox_prune(*, older_than: timedelta | None = None, chunk: int = 10_000) -> int:
    """Delete sent outbox rows older than EVENTS_RETENTION_DAYS, in chunks; returns how many."""
    cutoff = timezone.now() - (older_than or timedelta(days=settings.EVENTS_RETENTION_DAYS))
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "DELETE FROM events_outboxevent WHERE id IN (SELECT id FROM events_outboxevent "
                "WHERE sent_at IS NOT NULL AND sent_at < %s ORDER BY id LIMIT %s)",
                [cutoff, chunk],
            )
            deleted += cursor.rowcount
            if cursor.rowcount < chunk:
                break
    if deleted:
        logger.info("pruned %d sent outbox events older than %s", deleted, cutoff.isoformat())
    return deleted

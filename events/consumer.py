"""Consume the platform auth service's user events into the local user cache (manage.py consume_events).

The auth service publishes `user.created`, `user.updated` and `user.deleted` to AUTH_EVENTS_EXCHANGE;
we read them from the quorum queue AUTH_EVENTS_QUEUE (declared by events.broker) and keep
`contacts_service.models.User` in step, keyed on `auth_subject` (the auth service's user id, the
"sub" of its JWTs).

Per message:

    1. parse the envelope; a message that can never be applied (not JSON, no event id, no user id,
       unknown event type) is rejected without requeue: it goes to the dead-letter exchange at once;
    2. in one transaction: record (consumer, event_id) in ProcessedMessage (a duplicate is acked and
       ignored) and apply the change;
    3. ack only after that transaction committed. Anything else that fails is nacked with requeue:
       the quorum queue counts the deliveries and dead-letters the message after
       EVENTS_CONSUMER_MAX_DELIVERIES of them. A database that is unreachable is not the message's
       fault: the message is kept (not returned, so not counted) and retried once the database is
       back.

A crash between the commit and the ack delivers the message again: it is then a duplicate.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    transaction,
)
from django.db import connection as db_connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contacts_service.auth import _storable, _user_from_claims
from contacts_service.models import User
from events.broker import USER_EVENTS, connection_parameters, declare_topology, declare_user_events_queue
from events.models import ProcessedMessage

logger = logging.getLogger(__name__)

CONSUMER_NAME = "auth-users"  # ProcessedMessage.consumer of this consumer
PREFETCH_COUNT = 50
MAX_BACKOFF_SECONDS = 30.0

APPLIED, DUPLICATE, STALE = "applied", "duplicate", "stale"
_USER_ID_KEYS = ("user_id", "id", "sub")
_NAME_MAX_LENGTH = 150  # AbstractUser.first_name / last_name


class MalformedEvent(Exception):
    """A message that can never be applied: rejected without requeue (straight to the DLX)."""

    def __init__(self, reason: str, event_id: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.event_id = event_id


class BrokerUnavailable(Exception):
    """RabbitMQ could not be reached or went away."""


class DatabaseUnavailable(Exception):
    """The database could not be reached (raised in --once mode, which does not wait for it)."""


class ConsumerMisconfigured(Exception):
    """RabbitMQ refused to declare the queue (e.g. its arguments changed): retrying will not help."""


# -- one message -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserEvent:
    event_id: str
    event_type: str
    subject: str
    occurred_at: dt.datetime | None
    data: dict[str, Any]


def _identifier(value: Any) -> str | None:
    """A usable id (event id, user id): a non-empty string or integer of at most 255 characters."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text if 0 < len(text) <= 255 and "\x00" not in text and _storable(text) else None


def _timestamp(value: Any, properties) -> dt.datetime | None:
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            # In UTC: PostgreSQL takes offsets up to 15:59 only (ISO 8601 allows more), and an early
            # date with a positive offset would be stored as a BC one that cannot be read back.
            try:
                return (
                    parsed.astimezone(dt.UTC) if timezone.is_aware(parsed) else parsed.replace(tzinfo=dt.UTC)
                )
            except OverflowError:  # before year 1 or past 9999 in UTC: no usable time
                parsed = None
    stamp = getattr(properties, "timestamp", None)
    if isinstance(stamp, int) and not isinstance(stamp, bool):
        try:
            return dt.datetime.fromtimestamp(stamp, dt.UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None


def _message_id(properties) -> str:
    return _identifier(getattr(properties, "message_id", None)) or ""


def parse_user_event(body: bytes, properties=None, routing_key: str | None = None) -> UserEvent:
    """The envelope {"event_id", "event_type", "occurred_at", "data": {...}}, read liberally: the event id
    may come from the message_id property, the type from the type property or the routing key, the user
    id from data.user_id, data.id or data.sub. Raises MalformedEvent."""
    try:
        envelope = json.loads(body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError; nesting too deep
        raise MalformedEvent(f"body is not JSON ({str(exc)[:200]})", _message_id(properties)) from exc
    if not isinstance(envelope, dict):
        raise MalformedEvent("body is not a JSON object", _message_id(properties))
    event_id = _identifier(envelope.get("event_id")) or _message_id(properties)
    if not event_id:
        raise MalformedEvent("no usable event_id (nor message_id)")
    event_type = envelope.get("event_type") or getattr(properties, "type", None) or routing_key
    if event_type not in USER_EVENTS:
        raise MalformedEvent(f"unknown event type {str(event_type)[:64]!r}", event_id)
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise MalformedEvent("no data object", event_id)
    subject = next((s for key in _USER_ID_KEYS if (s := _identifier(data.get(key)))), None)
    if subject is None:
        raise MalformedEvent("no usable user id (data.user_id, data.id or data.sub)", event_id)
    return UserEvent(
        event_id=event_id,
        event_type=event_type,
        subject=subject,
        occurred_at=_timestamp(envelope.get("occurred_at"), properties),
        data=data,
    )


def handle_user_event(body: bytes, properties=None, routing_key: str | None = None) -> str:
    """Apply one message to the local user cache and record it, in one transaction.

    Returns "applied", "duplicate" (this event_id was processed before: nothing done) or "stale" (a
    created/updated event older than one already applied to that user: recorded, nothing changed).
    Raises MalformedEvent for a message that can never be applied, and whatever the database raises.

    - user.created / user.updated: create or update the user (only the fields present in data:
      email, first_name, last_name, is_active). A user seen for the first time is linked to an
      existing local user by email only when the email is verified and that user has no auth_subject
      yet (the rule of contacts_service.auth._user_from_claims, which does it); an email held by
      another local user is never taken (the user's email is left blank instead).
    - user.deleted: the user is deactivated (is_active=False: their tokens get 401) and their
      personal fields are cleared (first name, last name, email); memberships are kept, so the
      tenants' history still points to them. A deleted user never seen before is recorded as an
      inactive user, so a token issued before the deletion cannot create them afresh. Deletions are
      applied even when older than the last update (deactivating is always safe).
    """
    return apply_user_event(parse_user_event(body, properties, routing_key))


def _lock_subject(subject: str) -> None:
    """Events of one user are applied one at a time (a transaction-scoped advisory lock on PostgreSQL):
    two consumers taking an older and a newer event of a user seen by neither could each find no
    newer event and no user yet, and the older one won."""
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [f"user-event:{subject}"])


def apply_user_event(event: UserEvent) -> str:
    with transaction.atomic():
        _lock_subject(event.subject)
        try:
            with transaction.atomic():
                record = ProcessedMessage.objects.create(
                    consumer=CONSUMER_NAME,
                    event_id=event.event_id,
                    event_type=event.event_type,
                    subject=event.subject,
                    occurred_at=event.occurred_at,
                )
        except IntegrityError:
            if ProcessedMessage.objects.filter(consumer=CONSUMER_NAME, event_id=event.event_id).exists():
                return DUPLICATE
            raise
        user = User.objects.select_for_update().filter(auth_subject=event.subject).first()
        if event.event_type == "user.deleted":
            _deactivate(user, event.subject)
            return APPLIED
        if _is_stale(event, record):
            record.outcome = STALE
            record.save(update_fields=["outcome"])
            return STALE
        if user is None:
            _first_sight(event)
        else:
            _update(user, event.data)
    return APPLIED


def _is_stale(event: UserEvent, record: ProcessedMessage) -> bool:
    if event.occurred_at is None:
        return False
    return (
        ProcessedMessage.objects.filter(
            consumer=CONSUMER_NAME, subject=event.subject, occurred_at__gt=event.occurred_at
        )
        .exclude(pk=record.pk)
        .exists()
    )


def _normalized_email(value: Any) -> str:
    email = value.strip().lower() if isinstance(value, str) else ""
    return "" if len(email) > 254 or "\x00" in email or not _storable(email) else email


def _name(data: dict, key: str) -> str | None:
    """The new value of a name field, or None when the event does not set it."""
    if key not in data:
        return None
    value = data[key]
    if value is None:
        return ""
    if not isinstance(value, str):
        return None
    return value.replace("\x00", "").strip()[:_NAME_MAX_LENGTH]


def _apply_profile(user: User, data: dict) -> list[str]:
    changed = []
    for field in ("first_name", "last_name"):
        value = _name(data, field)
        if value is not None and value != getattr(user, field):
            setattr(user, field, value)
            changed.append(field)
    is_active = data.get("is_active")
    if isinstance(is_active, bool) and is_active != user.is_active:
        user.is_active = is_active
        changed.append("is_active")
    return changed


def _first_sight(event: UserEvent) -> None:
    data = event.data
    claims = {"email": _normalized_email(data.get("email")), "email_verified": data.get("email_verified")}
    user = _user_from_claims(event.subject, claims)  # links by verified email, or creates
    changed = _apply_profile(user, data)
    if changed:
        user.save(update_fields=changed)


def _update(user: User, data: dict) -> None:
    changed = _apply_profile(user, data)
    if "email" in data:
        # Kept only when the auth service says it is verified (as a token's): see auth._user_from_claims.
        email = _normalized_email(data["email"]) if data.get("email_verified") is True else ""
        if email != user.email.lower():
            if email and User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
                logger.warning(
                    "user %s: email from the auth service is held by another local user; left blank",
                    user.pk,
                )
                email = ""
            if email != user.email:
                user.email = email
                changed.append("email")
    if changed:
        user.save(update_fields=changed)


def _deactivate(user: User | None, subject: str) -> None:
    if user is None:
        User.objects.create(
            username="auth:" + hashlib.sha256(subject.encode()).hexdigest()[:40],
            auth_subject=subject,
            email="",
            is_active=False,
        )
        return
    user.is_active, user.first_name, user.last_name, user.email = False, "", "", ""
    user.save(update_fields=["is_active", "first_name", "last_name", "email"])


# -- the consumer ----------------------------------------------------------------------------------


@dataclass
class _Delivery:
    method: pika.spec.Basic.Deliver
    properties: pika.BasicProperties
    body: bytes

    @property
    def event_id(self) -> str:
        """For logs: the envelope's event_id, else the message_id property, else '?'."""
        try:
            envelope = json.loads(self.body)
        except (ValueError, RecursionError):
            envelope = None
        found = _identifier(envelope.get("event_id")) if isinstance(envelope, dict) else None
        return found or _message_id(self.properties) or "?"

    @property
    def delivery_number(self) -> int:
        """1 for the first delivery; a quorum queue counts the earlier ones in x-delivery-count."""
        count = (self.properties.headers or {}).get("x-delivery-count", 0)
        return (count if isinstance(count, int) else 0) + 1


def _database_reachable() -> bool:
    try:
        db_connection.close_if_unusable_or_obsolete()
        with db_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return False
    return True


class UserEventsConsumer:
    """Reads AUTH_EVENTS_QUEUE with basic_consume (prefetch 50) and applies each message with `handler`.

    run() consumes until stop is set (SIGTERM/SIGINT with install_signal_handlers()), reconnecting
    with backoff when RabbitMQ goes away (the outage is logged once when it starts and once when it
    ends); run(once=True) returns when the queue has been idle for idle_timeout seconds.
    """

    def __init__(
        self, *, url: str | None = None, idle_timeout: float = 1.0, prefetch_count: int = PREFETCH_COUNT,
        max_backoff: float = MAX_BACKOFF_SECONDS,
        handler: Callable[..., str] = handle_user_event,
    ) -> None:  # fmt: skip
        self.url = url
        self.idle_timeout = idle_timeout
        self.prefetch_count = prefetch_count
        self.max_backoff = max_backoff
        self.handler = handler
        self.stop = threading.Event()
        self.stats: collections.Counter[str] = collections.Counter()
        self._conn: pika.BlockingConnection | None = None
        self._channel = None
        self._consumer_tag: str | None = None
        self._cancelled_by_broker = False
        self._buffer: collections.deque[_Delivery] = collections.deque()
        self._once = False
        self._broker_down_since: float | None = None
        self._db_down_since: float | None = None
        self._backoff = 0.0

    # -- loops -------------------------------------------------------------------------------------

    def run(self, *, once: bool = False) -> None:
        """Consume until stopped, or with once=True until the queue is idle. Raises
        ConsumerMisconfigured; with once=True also BrokerUnavailable and DatabaseUnavailable."""
        self._once = once
        try:
            while not self.stop.is_set():
                try:
                    self._open()
                    self._broker_recovered()
                    self._consume()
                    return
                except (pika.exceptions.AMQPError, OSError, BrokerUnavailable) as exc:
                    self._close()
                    if once:
                        raise BrokerUnavailable(str(exc) or repr(exc)) from exc
                    self._broker_outage(exc)
                    self.stop.wait(self._backoff)
        finally:
            self._close()

    def _open(self) -> None:
        self._buffer.clear()
        self._cancelled_by_broker = False
        self._conn = pika.BlockingConnection(connection_parameters(self.url))
        channel = self._conn.channel()
        try:
            declare_topology(channel)
            queue = declare_user_events_queue(channel)
        except pika.exceptions.ChannelClosedByBroker as exc:
            raise ConsumerMisconfigured(f"RabbitMQ refused the queue or exchanges: {exc}") from exc
        channel.basic_qos(prefetch_count=self.prefetch_count)
        channel.add_on_cancel_callback(self._on_broker_cancel)
        self._consumer_tag = channel.basic_consume(queue, self._on_message)
        self._channel = channel

    def _on_message(self, _channel, method, properties, body) -> None:
        self._buffer.append(_Delivery(method, properties, body))

    def _on_broker_cancel(self, _frame) -> None:
        self._cancelled_by_broker = True

    def _consume(self) -> None:
        idle_since = time.monotonic()
        while not self.stop.is_set():
            if self._cancelled_by_broker:
                raise BrokerUnavailable("RabbitMQ cancelled the consumer (queue deleted?)")
            self._conn.process_data_events(time_limit=0.2)
            if self._buffer:
                while self._buffer and not self.stop.is_set():
                    self._handle(self._buffer.popleft())
                idle_since = time.monotonic()
            elif time.monotonic() - idle_since >= self.idle_timeout:
                if self._once:
                    break
                close_old_connections()  # honour CONN_MAX_AGE while idle
                idle_since = time.monotonic()
        self._finish()

    def _finish(self) -> None:
        """Stop the deliveries, apply what was already received, and leave."""
        if self._consumer_tag is not None and self._channel is not None and self._channel.is_open:
            self._channel.basic_cancel(self._consumer_tag)  # pika returns what it had not dispatched
            self._consumer_tag = None
        while self._buffer:
            self._handle(self._buffer.popleft())

    def _close(self) -> None:
        conn, self._conn, self._channel, self._consumer_tag = self._conn, None, None, None
        self._buffer.clear()  # unacked: the broker requeues them with the connection
        if conn is not None and conn.is_open:
            try:
                conn.close()
            except Exception:  # closing a broken connection must not raise
                logger.debug("error while closing the RabbitMQ connection", exc_info=True)

    # -- one delivery ------------------------------------------------------------------------------

    def _handle(self, delivery: _Delivery) -> None:
        tag = delivery.method.delivery_tag
        while True:
            try:
                outcome = self.handler(
                    delivery.body, delivery.properties, routing_key=delivery.method.routing_key
                )
            except MalformedEvent as exc:
                logger.warning(
                    "user event %s (%s) rejected, dead-lettered: %s",
                    exc.event_id or delivery.event_id,
                    delivery.method.routing_key,
                    exc.reason,
                )
                self._channel.basic_reject(tag, requeue=False)
                self.stats["rejected"] += 1
                return
            except (OperationalError, InterfaceError) as exc:
                if _database_reachable():
                    self._nack(delivery, exc)
                    return
                if self._once:
                    raise DatabaseUnavailable(str(exc)) from exc
                if not self._wait_for_database(exc):
                    return  # stopping: left unacked, RabbitMQ requeues it with the connection
            except Exception as exc:
                self._nack(delivery, exc)
                return
            else:
                self._channel.basic_ack(tag)
                self.stats[outcome] += 1
                logger.debug(
                    "user event %s (%s): %s", delivery.event_id, delivery.method.routing_key, outcome
                )
                return

    def _nack(self, delivery: _Delivery, exc: Exception) -> None:
        number, limit = delivery.delivery_number, settings.EVENTS_CONSUMER_MAX_DELIVERIES
        logger.warning(
            "user event %s (%s) failed on delivery %d of %d, %s: %r",
            delivery.event_id,
            delivery.method.routing_key,
            number,
            limit,
            "dead-lettered" if number >= limit else "requeued",
            exc,
            exc_info=True,
        )
        self._channel.basic_nack(delivery.method.delivery_tag, requeue=True)
        self.stats["failed"] += 1
        close_old_connections()  # a broken database connection is not reused

    def _wait_for_database(self, exc: Exception) -> bool:
        """Keep the message (returning it would count as a delivery) and wait for the database, keeping
        the RabbitMQ connection alive. False when stopped first."""
        if self._db_down_since is None:
            self._db_down_since = time.monotonic()
            logger.warning(
                "database unavailable (%s); user events wait in RabbitMQ, retrying with backoff", exc
            )
        backoff = 0.5
        while not self.stop.is_set():
            self._sleep(backoff)
            if self.stop.is_set():
                return False
            if _database_reachable():
                logger.warning(
                    "database reachable again after %.1fs; consuming resumed",
                    time.monotonic() - self._db_down_since,
                )
                self._db_down_since = None
                return True
            backoff = min(backoff * 2, self.max_backoff)
        return False

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self._conn.sleep(min(left, 0.5))

    # -- outages -----------------------------------------------------------------------------------

    def _broker_outage(self, exc: Exception) -> None:
        if self._broker_down_since is None:
            self._broker_down_since = time.monotonic()
            logger.warning(
                "RabbitMQ unavailable (%r); user events wait in RabbitMQ, retrying with backoff", exc
            )
        else:
            logger.debug("RabbitMQ still unavailable: %r", exc)
        self._backoff = min(max(self._backoff * 2, 0.5), self.max_backoff)

    def _broker_recovered(self) -> None:
        if self._broker_down_since is not None:
            logger.warning(
                "RabbitMQ reachable again after %.1fs; consuming resumed",
                time.monotonic() - self._broker_down_since,
            )
        self._broker_down_since, self._backoff = None, 0.0

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())

"""consume_events against the real RabbitMQ: the auth service's user events kept in the local user cache,
once per event_id, acked after commit, poison and malformed messages dead-lettered, outages ridden out."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import jwt
import pika
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from contacts_service.models import Membership, User
from events import consumer as consumer_module
from events.broker import connection_parameters, declare_topology, declare_user_events_queue
from events.consumer import MalformedEvent, UserEventsConsumer, handle_user_event
from events.models import ProcessedMessage
from tests.events.tcp_proxy import CuttableProxy
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parents[2]
LIST = reverse("contact-list")
T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


class AuthBroker:
    """A throwaway copy of the consumer's topology: events exchange (+ .unroutable, .dlx,
    .dead-letter), the auth service's exchange and the quorum queue consume_events reads."""

    def __init__(self, settings):
        suffix = uuid.uuid4().hex[:10]
        settings.EVENTS_EXCHANGE = f"test.contacts.{suffix}"
        settings.AUTH_EVENTS_EXCHANGE = f"test.auth.{suffix}"
        settings.AUTH_EVENTS_QUEUE = f"test.auth-users.{suffix}"
        settings.EVENTS_CONSUMER_MAX_DELIVERIES = 3
        self.exchange = settings.EVENTS_EXCHANGE
        self.auth_exchange = settings.AUTH_EVENTS_EXCHANGE
        self.queue = settings.AUTH_EVENTS_QUEUE
        self.dead_letter_queue = f"{self.exchange}.dead-letter"
        self.conn = pika.BlockingConnection(connection_parameters())
        self.channel = self.conn.channel()
        declare_topology(self.channel)
        declare_user_events_queue(self.channel)
        self.channel.confirm_delivery()  # publish() returns once the queue holds the message

    def publish(
        self, event_type: str, data: dict | None = None, *, event_id: str | None = None,
        occurred_at: dt.datetime | None = None, body: bytes | None = None, properties: dict | None = None,
    ) -> str:  # fmt: skip
        event_id = event_id or str(uuid.uuid4())
        if body is None:
            envelope = {
                "event_id": event_id,
                "event_type": event_type,
                "occurred_at": (occurred_at or timezone.now()).isoformat(),
                "data": data or {},
            }
            body = json.dumps(envelope).encode()
        props = {"content_type": "application/json", "delivery_mode": 2, "message_id": event_id}
        self.channel.basic_publish(
            self.auth_exchange, event_type, body, pika.BasicProperties(**{**props, **(properties or {})})
        )
        return event_id

    def depth(self, queue: str | None = None) -> int:
        return self.channel.queue_declare(queue or self.queue, passive=True).method.message_count

    def dead_letters(self, expected: int, timeout: float = 10.0) -> list[tuple[pika.BasicProperties, bytes]]:
        """The dead-lettered messages (dead-lettering is asynchronous: wait for `expected` of them)."""
        _wait_for(lambda: self.depth(self.dead_letter_queue) >= expected, timeout)
        got = []
        while True:
            method, properties, body = self.channel.basic_get(self.dead_letter_queue, auto_ack=True)
            if method is None:
                return got
            got.append((properties, body))

    def cleanup(self) -> None:
        channel = self.channel
        for name in (self.queue, self.dead_letter_queue, f"{self.exchange}.unroutable"):
            channel.queue_delete(name)
        for name in (
            self.auth_exchange,
            self.exchange,
            f"{self.exchange}.unroutable",
            f"{self.exchange}.dlx",
        ):
            channel.exchange_delete(name)
        self.conn.close()


@pytest.fixture
def broker(settings):
    broker = AuthBroker(settings)
    yield broker
    broker.cleanup()


def _wait_for(predicate, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def drain(**kwargs) -> dict[str, int]:
    consumer = UserEventsConsumer(idle_timeout=0.3, **kwargs)
    consumer.run(once=True)
    return dict(consumer.stats)


def bearer(sub: str, email: str = "") -> APIClient:
    claims = {
        "sub": sub,
        "email": email,
        "email_verified": True,
        "aud": django_settings.JWT_AUDIENCE,
        "iss": django_settings.JWT_ISSUER,
        "exp": timezone.now() + dt.timedelta(minutes=5),
    }
    client = APIClient()
    token = jwt.encode(claims, django_settings.JWT_VERIFYING_KEY, algorithm="HS256")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _user(subject: str) -> User:
    return User.objects.get(auth_subject=subject)


# -- the lifecycle on the real broker ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_created_updated_deleted_keep_the_local_user_in_step(broker):
    broker.publish(
        "user.created",
        {"user_id": "auth-1", "email": "Ada@Example.com", "email_verified": True, "first_name": "Ada",
         "last_name": "Lovelace", "is_active": True},
        occurred_at=T0,
    )  # fmt: skip
    assert drain() == {"applied": 1}
    user = _user("auth-1")
    assert (user.email, user.first_name, user.last_name, user.is_active) == (
        "ada@example.com", "Ada", "Lovelace", True,
    )  # fmt: skip
    assert user.username.startswith("auth:")

    broker.publish(
        "user.updated",
        {"id": "auth-1", "email": "ada.king@example.com", "email_verified": True, "last_name": "King"},
        occurred_at=T0 + dt.timedelta(minutes=1),
    )
    assert drain() == {"applied": 1}
    user.refresh_from_db()
    assert (user.email, user.first_name, user.last_name) == ("ada.king@example.com", "Ada", "King")

    broker.publish("user.deleted", {"sub": "auth-1"}, occurred_at=T0 + dt.timedelta(minutes=2))
    assert drain() == {"applied": 1}
    user.refresh_from_db()
    assert (user.is_active, user.first_name, user.last_name, user.email) == (False, "", "", "")
    assert User.objects.filter(auth_subject="auth-1").count() == 1
    assert broker.depth() == 0 and broker.dead_letters(0) == []
    assert set(ProcessedMessage.objects.values_list("event_type", flat=True)) == set(
        consumer_module.USER_EVENTS
    )


@pytest.mark.django_db(transaction=True)
def test_a_deleted_user_keeps_memberships_but_their_token_is_refused(broker, tenant, user_client_for):
    client, user = user_client_for(tenant)
    assert client.get(LIST).status_code == 200

    broker.publish("user.deleted", {"user_id": user.auth_subject})
    assert drain() == {"applied": 1}

    response = client.get(LIST)
    assert response.status_code == 401 and "inactive" in response.json()["message"].lower()
    assert Membership.objects.filter(user=user, tenant=tenant).exists()


@pytest.mark.django_db(transaction=True)
def test_a_user_deleted_before_we_ever_saw_them_cannot_come_back_with_an_old_token(broker, tenant):
    broker.publish("user.deleted", {"user_id": "never-seen"})
    assert drain() == {"applied": 1}
    ghost = _user("never-seen")
    assert not ghost.is_active and ghost.email == ""
    assert bearer("never-seen", "ghost@example.com").get(LIST).status_code == 401
    assert User.objects.filter(auth_subject="never-seen").count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_same_event_id_twice_is_applied_once(broker):
    event_id = broker.publish("user.created", {"user_id": "auth-2", "first_name": "Grace"})
    broker.publish("user.created", {"user_id": "auth-2", "first_name": "Not Grace"}, event_id=event_id)
    assert drain() == {"applied": 1, "duplicate": 1}
    assert _user("auth-2").first_name == "Grace"
    assert ProcessedMessage.objects.filter(event_id=event_id).count() == 1

    broker.publish("user.created", {"user_id": "auth-2", "first_name": "Again"}, event_id=event_id)
    assert drain() == {"duplicate": 1}  # a redelivery much later, e.g. after a crash before the ack
    assert User.objects.filter(auth_subject="auth-2").count() == 1
    assert _user("auth-2").first_name == "Grace"


@pytest.mark.django_db(transaction=True)
def test_an_update_older_than_the_last_applied_one_is_ignored(broker):
    broker.publish("user.updated", {"user_id": "auth-3", "first_name": "New"}, occurred_at=T0)
    broker.publish(
        "user.created", {"user_id": "auth-3", "first_name": "Old"}, occurred_at=T0 - dt.timedelta(hours=1)
    )
    broker.publish(
        "user.updated", {"user_id": "auth-3", "first_name": "Older"}, occurred_at=T0 - dt.timedelta(minutes=1)
    )
    assert drain() == {"applied": 1, "stale": 2}
    assert _user("auth-3").first_name == "New"
    assert ProcessedMessage.objects.filter(subject="auth-3", outcome="stale").count() == 2

    broker.publish("user.deleted", {"user_id": "auth-3"}, occurred_at=T0 - dt.timedelta(days=1))
    assert drain() == {"applied": 1}  # deactivating is applied whatever its age
    assert not _user("auth-3").is_active


# -- failures ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_poison_message_is_dead_lettered_after_max_deliveries_without_blocking_others(broker, monkeypatch):
    original, calls = consumer_module.apply_user_event, []

    def apply(event):
        if event.subject == "poison":
            calls.append(event.event_id)
            raise RuntimeError("the handler fails on this one every time")
        return original(event)

    monkeypatch.setattr(consumer_module, "apply_user_event", apply)
    poison = broker.publish("user.created", {"user_id": "poison"})
    broker.publish("user.created", {"user_id": "auth-4"})

    assert drain() == {"failed": 3, "applied": 1}
    assert calls == [poison] * 3  # EVENTS_CONSUMER_MAX_DELIVERIES, then dead-lettered: no loop
    [(properties, body)] = broker.dead_letters(1)
    assert json.loads(body)["event_id"] == poison
    assert properties.headers["x-first-death-reason"] == "delivery_limit"
    assert broker.depth() == 0
    assert User.objects.filter(auth_subject="auth-4").exists()
    assert not User.objects.filter(auth_subject="poison").exists()
    assert not ProcessedMessage.objects.filter(event_id=poison).exists()  # rolled back with the change


@pytest.mark.django_db(transaction=True)
def test_a_message_the_database_refuses_is_dead_lettered(broker):
    # valid JSON, but a lone surrogate cannot be stored: fails on every delivery
    data = '{"user_id": "u", "first_name": "\\ud800"}'
    body = f'{{"event_id": "e-bad", "event_type": "user.created", "data": {data}}}'.encode()
    broker.publish("user.created", body=body, event_id="e-bad")
    assert drain() == {"failed": 3}
    [(properties, _)] = broker.dead_letters(1)
    assert properties.message_id == "e-bad"
    assert not User.objects.filter(auth_subject="u").exists()
    assert not ProcessedMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_malformed_messages_are_dead_lettered_at_once(broker, caplog):
    caplog.set_level(logging.WARNING, logger="events.consumer")
    broker.publish("user.created", body=b"{not json", event_id="m-1")
    broker.publish("user.created", {"email": "nobody@example.com"}, event_id="m-2")  # no user id
    broker.publish(
        "user.created",
        body=b'{"event_id": "m-3", "event_type": "user.exploded", "data": {"id": 1}}',
        event_id="m-3",
    )
    broker.publish("user.updated", body=b"[1, 2]", event_id="m-4")

    assert drain() == {"rejected": 4}
    dead = broker.dead_letters(4)
    assert sorted(p.message_id for p, _ in dead) == ["m-1", "m-2", "m-3", "m-4"]
    assert {p.headers["x-first-death-reason"] for p, _ in dead} == {"rejected"}
    assert all("x-delivery-count" not in p.headers for p, _ in dead)  # delivered once
    assert not ProcessedMessage.objects.exists() and not User.objects.exists()
    logged = " ".join(r.getMessage() for r in caplog.records)
    for event_id in ("m-1", "m-2", "m-3", "m-4"):
        assert event_id in logged
    assert "not JSON" in logged and "no usable user id" in logged and "unknown event type" in logged


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_database_keeps_the_message_instead_of_burning_its_deliveries(
    broker, monkeypatch, caplog
):
    caplog.set_level(logging.WARNING, logger="events.consumer")
    original, deliveries = consumer_module.apply_user_event, []
    reachable = iter([False, True])  # checked after the failure, then after the first backoff
    consumer = UserEventsConsumer(idle_timeout=0.3, max_backoff=0.5)

    def apply(event):
        deliveries.append(event.event_id)
        if len(deliveries) == 1:
            raise OperationalError("connection to server failed")
        outcome = original(event)
        consumer.stop.set()
        return outcome

    monkeypatch.setattr(consumer_module, "apply_user_event", apply)
    monkeypatch.setattr(consumer_module, "_database_reachable", lambda: next(reachable))
    event_id = broker.publish("user.created", {"user_id": "auth-5"})

    consumer.run()  # not --once: waits for the database; stops after applying
    assert deliveries == [event_id, event_id]
    assert consumer.stats == {"applied": 1}  # never nacked: the delivery count is untouched
    assert User.objects.filter(auth_subject="auth-5").exists()
    assert broker.depth() == 0 and broker.dead_letters(0) == []
    messages = [r.getMessage() for r in caplog.records]
    assert sum("database unavailable" in m for m in messages) == 1
    assert sum("database reachable again" in m for m in messages) == 1


@pytest.mark.django_db(transaction=True)
def test_rabbitmq_going_away_is_ridden_out_and_logged_once(broker, caplog):
    caplog.set_level(logging.WARNING, logger="events.consumer")
    proxy = CuttableProxy(5672)
    consumer = UserEventsConsumer(url=proxy.url(), max_backoff=0.3)

    def run():
        try:
            consumer.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        broker.publish("user.created", {"user_id": "auth-6", "first_name": "Before"})
        assert _wait_for(lambda: User.objects.filter(auth_subject="auth-6").exists())
        proxy.cut()  # RabbitMQ gone for the consumer
        broker.publish("user.updated", {"user_id": "auth-6", "first_name": "After"})
        time.sleep(1.5)  # several reconnection attempts
        assert _user("auth-6").first_name == "Before"
        proxy.restore()
        assert _wait_for(lambda: _user("auth-6").first_name == "After"), "the consumer did not resume"
    finally:
        consumer.stop.set()
        thread.join(10)
        proxy.close()
    assert not thread.is_alive()
    messages = [r.getMessage() for r in caplog.records]
    assert sum("RabbitMQ unavailable" in m for m in messages) == 1, messages
    assert sum("RabbitMQ reachable again" in m for m in messages) == 1, messages
    assert broker.depth() == 0


@pytest.mark.django_db(transaction=True)
def test_a_consumer_cancelled_by_rabbitmq_redeclares_its_queue_and_goes_on(broker, caplog):
    caplog.set_level(logging.WARNING, logger="events.consumer")
    consumer = UserEventsConsumer(max_backoff=0.3)

    def run():
        try:
            consumer.run()
        finally:
            connection.close()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        broker.publish("user.created", {"user_id": "auth-9"})
        assert _wait_for(lambda: User.objects.filter(auth_subject="auth-9").exists())
        broker.channel.queue_delete(broker.queue)  # an operator deletes the queue under the consumer
        assert _wait_for(lambda: any("RabbitMQ reachable again" in r.getMessage() for r in caplog.records))
        broker.publish("user.updated", {"user_id": "auth-9", "first_name": "Back"})
        assert _wait_for(lambda: _user("auth-9").first_name == "Back"), "the consumer did not come back"
    finally:
        consumer.stop.set()
        thread.join(10)
    assert not thread.is_alive()
    assert any("cancelled the consumer" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db(transaction=True)
def test_once_fails_clearly_without_rabbitmq(broker):
    proxy = CuttableProxy(5672)
    proxy.cut()
    try:
        with pytest.raises(consumer_module.BrokerUnavailable):
            UserEventsConsumer(url=proxy.url(), idle_timeout=0.3).run(once=True)
    finally:
        proxy.close()


# -- the command ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_command_once_drains_and_reports(broker):
    broker.publish("user.created", {"user_id": "auth-7"})
    broker.publish("user.created", body=b"nope", event_id="x")
    out = io.StringIO()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        call_command("consume_events", "--once", "--idle-timeout", "0.3", stdout=out)
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert out.getvalue().strip() == "1 applied, 0 duplicate, 0 stale, 1 rejected, 0 failed"
    assert User.objects.filter(auth_subject="auth-7").exists()


@pytest.mark.django_db(transaction=True)
def test_command_stops_on_sigterm(broker):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contacts_service.settings",
        "DJANGO_SECRET_KEY": "test-only-secret-key-0123456789-0123456789",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{db['NAME']}",
        "RABBITMQ_URL": django_settings.RABBITMQ_URL,
        "EVENTS_EXCHANGE": broker.exchange,
        "AUTH_EVENTS_EXCHANGE": broker.auth_exchange,
        "AUTH_EVENTS_QUEUE": broker.queue,
        "EVENTS_CONSUMER_MAX_DELIVERIES": "3",
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "consume_events"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        broker.publish("user.created", {"user_id": "auth-8"})
        assert _wait_for(lambda: User.objects.filter(auth_subject="auth-8").exists(), timeout=30)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 0
    assert out.strip() == "1 applied, 0 duplicate, 0 stale, 0 rejected, 0 failed"


# -- the handler alone ------------------------------------------------------------------------------


def _event(event_type: str, data: dict, **envelope) -> bytes:
    return json.dumps(
        {"event_id": str(uuid.uuid4()), "event_type": event_type, "data": data, **envelope}
    ).encode()


@pytest.mark.django_db
def test_first_sight_links_an_existing_user_only_by_a_verified_email_and_only_once():
    owner = UserFactory(email="owner@example.com", auth_subject=None)
    body = _event("user.created", {"user_id": "s-1", "email": "Owner@Example.com", "email_verified": True})
    assert handle_user_event(body, None) == "applied"
    owner.refresh_from_db()
    assert owner.auth_subject == "s-1"

    # the same email, verified, for another subject: the owner is taken, never merged
    body = _event("user.created", {"user_id": "s-2", "email": "owner@example.com", "email_verified": True})
    assert handle_user_event(body, None) == "applied"
    other = _user("s-2")
    assert other.pk != owner.pk and other.email == ""


@pytest.mark.django_db
def test_first_sight_with_an_unverified_email_does_not_link():
    operator = UserFactory(email="ops@example.com", auth_subject=None)
    for verified in (False, "true", None):
        subject = f"s-{verified}"
        data = {"user_id": subject, "email": "ops@example.com", "email_verified": verified}
        assert handle_user_event(_event("user.created", data), None) == "applied"
        assert _user(subject).pk != operator.pk and _user(subject).email == ""
    operator.refresh_from_db()
    assert operator.auth_subject is None


@pytest.mark.django_db
def test_an_update_never_takes_an_email_held_by_another_local_user():
    UserFactory(email="taken@example.com")
    verified = {"email_verified": True}
    handle_user_event(
        _event("user.created", {"user_id": "s-3", "email": "mine@example.com", **verified}), None
    )
    assert _user("s-3").email == "mine@example.com"
    handle_user_event(
        _event("user.updated", {"user_id": "s-3", "email": "TAKEN@example.com", **verified}), None
    )
    assert _user("s-3").email == ""
    handle_user_event(
        _event("user.updated", {"user_id": "s-3", "email": "free@example.com", **verified}), None
    )
    assert _user("s-3").email == "free@example.com"
    # an email the auth service does not say is verified is not kept
    handle_user_event(_event("user.updated", {"user_id": "s-3", "email": "claimed@example.com"}), None)
    assert _user("s-3").email == ""


@pytest.mark.django_db
def test_the_envelope_is_read_liberally():
    # event id from message_id, type from the routing key, user id under data.sub, a numeric id
    properties = pika.BasicProperties(message_id="from-properties")
    body = json.dumps({"data": {"sub": 42, "first_name": "Num", "is_active": False}}).encode()
    assert handle_user_event(body, properties, routing_key="user.created") == "applied"
    user = _user("42")
    assert (user.first_name, user.is_active) == ("Num", False)
    assert ProcessedMessage.objects.get(event_id="from-properties").event_type == "user.created"

    # fields absent are left alone; null clears a name; a naive occurred_at is UTC
    body = _event(
        "user.updated", {"id": "42", "last_name": None, "is_active": True}, occurred_at="2026-01-01T12:00"
    )
    assert handle_user_event(body, None) == "applied"
    user.refresh_from_db()
    assert (user.first_name, user.last_name, user.is_active) == ("Num", "", True)
    assert ProcessedMessage.objects.filter(subject="42", occurred_at=T0).exists()


def _raw(event_type: str = "user.created", data=None, **envelope) -> bytes:
    return json.dumps({"event_id": "e", "event_type": event_type, "data": data, **envelope}).encode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b'"a string"', "not a JSON object"),
        (_raw(data={"id": "x"}, event_id=None), "event_id"),
        (_raw(data="x"), "no data"),
        (_raw(data={"id": True}), "user id"),
        (_raw(data={"id": "a\u0000"}), "user id"),
        (_raw(data={"user_id": ""}), "user id"),
        (_raw("contact.created", data={"id": "x"}), "event type"),
    ],
)  # fmt: skip
def test_malformed_envelopes_are_refused_with_a_reason(body, reason):
    with pytest.raises(MalformedEvent, match=reason):
        handle_user_event(body, None)
    assert not ProcessedMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_queue_declared_with_other_arguments_is_a_clear_error_not_a_retry_loop(broker, settings):
    settings.EVENTS_CONSUMER_MAX_DELIVERIES = 7  # the queue exists with another x-delivery-limit
    with pytest.raises(consumer_module.ConsumerMisconfigured, match="PRECONDITION_FAILED"):
        UserEventsConsumer(idle_timeout=0.3).run()

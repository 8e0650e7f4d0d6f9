"""The relay survives RabbitMQ going away and being killed: every event arrives, none lost."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from contacts.services import contact_create, contact_update
from contacts_service.context import SYSTEM_ACTOR
from events.models import OutboxEvent
from events.relay import OutboxRelay
from tests.events.tcp_proxy import CuttableProxy

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(predicate, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _pending() -> int:
    return OutboxEvent.objects.unscoped().filter(sent_at__isnull=True).count()


def _write(tenant, start: int, count: int) -> None:
    for n in range(start, start + count):
        contact = contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": f"p{n}@x.com"})
        contact_update(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=contact.pk, data={"city": "Lyon"})


@pytest.mark.django_db(transaction=True)
def test_broker_outage_while_writing_and_relaying_loses_nothing(tenant, broker, settings, caplog):
    settings.EVENTS_RELAY_MAX_BACKOFF_SECONDS = 0.5
    settings.EVENTS_RELAY_CONFIRM_TIMEOUT_SECONDS = 3
    proxy = CuttableProxy(5672)
    relay = OutboxRelay(url=proxy.url(), batch_size=5)

    def run_relay():
        try:
            relay.run()
        finally:
            relay.publisher.close()
            connection.close()

    thread = threading.Thread(target=run_relay, daemon=True)
    caplog.set_level(logging.WARNING, logger="events.relay")
    thread.start()
    try:
        _write(tenant, 0, 10)
        assert _wait_for(lambda: relay.stats.published > 0)
        proxy.cut()  # RabbitMQ gone mid-stream
        _write(tenant, 10, 10)  # the API keeps writing: events wait in the outbox
        time.sleep(1.5)
        assert _pending() > 0
        proxy.restore()
        _write(tenant, 20, 10)
        assert _wait_for(lambda: _pending() == 0), "the relay did not catch up after the outage"
    finally:
        relay.stop.set()
        thread.join(10)
        proxy.close()

    written = set(map(str, OutboxEvent.objects.unscoped().values_list("event_id", flat=True)))
    received = [p.message_id for p, _ in broker.messages()]
    assert len(written) == 60
    assert set(received) == written  # every event arrived; a repeat can only carry the same event_id
    outage_logs = [r for r in caplog.records if "RabbitMQ unavailable" in r.getMessage()]
    assert len(outage_logs) == 1, [r.getMessage() for r in caplog.records]
    assert any("reachable again" in r.getMessage() for r in caplog.records)


PADDED = "jsonb_build_object('n', n, 'padding', repeat('x', 300))"


def _seed_outbox(tenant, count: int, payload: str = PADDED) -> None:
    """`count` pending events of the tenant; `payload`: their payload as SQL of the series' `n`."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO events_outboxevent
                (tenant_id, event_id, event_type, aggregate_type, aggregate_id, sequence, payload,
                 created_at, attempts, last_error)
            SELECT %s, gen_random_uuid(), 'contact.updated', 'contact', gen_random_uuid(), 1,
                   {payload}, now(), 0, ''
            FROM generate_series(1, %s) AS n
            """,
            [tenant.pk, count],
        )


@pytest.mark.django_db(transaction=True)
def test_relay_killed_mid_batch_and_restarted_loses_nothing(tenant, broker):
    total = 30_000
    _seed_outbox(tenant, total)
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contacts_service.settings",
        "DJANGO_SECRET_KEY": "test-only-secret-key-0123456789-0123456789",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
        f"{db['NAME']}",
        "RABBITMQ_URL": django_settings.RABBITMQ_URL,
        "EVENTS_EXCHANGE": broker.exchange,
        "LOG_LEVEL": "WARNING",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "relay_events", "--batch-size", "500"], cwd=ROOT, env=env
    )
    try:
        assert _wait_for(lambda: _pending() < total, timeout=60), "the relay never published"
        os.kill(process.pid, signal.SIGKILL)  # mid-stream: a batch is in flight
    finally:
        process.wait(10)
    assert process.returncode == -signal.SIGKILL
    assert 0 < _pending() < total

    relay = OutboxRelay()  # restarted
    try:
        relay.drain()
    finally:
        relay.publisher.close()
    assert _pending() == 0
    written = set(map(str, OutboxEvent.objects.unscoped().values_list("event_id", flat=True)))
    received = [p.message_id for p, _ in broker.messages()]
    assert set(received) == written
    assert len(received) - len(written) <= 500 * 2  # repeats only from the batch in flight when killed

"""setup_broker, relay_events and consume_events: a bad setting or an unreachable service is a clear
error (CommandError: one line, exit status 1), never a Python traceback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_signals():
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in handlers.items():
        signal.signal(sig, handler)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "command",
    [["setup_broker"], ["relay_events", "--once"], ["consume_events", "--once", "--idle-timeout", "0.3"]],
)
@pytest.mark.parametrize(
    "url",
    ["amqp://guest:guest@127.0.0.1:notaport/%2F", "amqp://guest:guest@127.0.0.1:5672/%2F?heartbeat=soon"],
)
def test_a_malformed_rabbitmq_url_is_a_clear_command_error(command, url, settings, restore_signals):
    settings.RABBITMQ_URL = url
    with pytest.raises(CommandError, match="RABBITMQ_URL"):
        call_command(*command)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_relay_once_without_the_database_exits_with_a_clear_error_not_a_traceback():
    # given RabbitMQ up but PostgreSQL unreachable
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "contacts_service.settings",
        "DJANGO_SECRET_KEY": "test-only-secret-key-0123456789-0123456789",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{_closed_port()}/nope",
        "RABBITMQ_URL": django_settings.RABBITMQ_URL,
        "EVENTS_EXCHANGE": "test.events-findings.relay-no-db",
        "LOG_LEVEL": "CRITICAL",
    }
    # when the relay is asked to drain once
    process = subprocess.run(
        [sys.executable, "manage.py", "relay_events", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then it fails with a one-line message naming the database, as consume_events --once does
    assert process.returncode == 1, (process.returncode, process.stdout, process.stderr[-2000:])
    assert "Traceback" not in process.stderr, process.stderr[-2000:]
    assert "database" in process.stderr.lower() or "postgresql" in process.stderr.lower()

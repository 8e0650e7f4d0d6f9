"""GET /api/health/ with a broker or a cache that accepts connections and never answers: every check
is bounded by HEALTH_CHECK_TIMEOUT_SECONDS, so the endpoint answers within a load balancer's timeout."""

from __future__ import annotations

import socket
import time

import pytest
from django.test import override_settings


@pytest.fixture
def silent_port():
    """A local port that accepts TCP connections (kernel backlog) and never says a word: a hung
    RabbitMQ or Redis, a stuck load balancer, a half-open network path."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock.getsockname()[1]
    sock.close()


@pytest.mark.django_db
def test_the_broker_check_respects_health_check_timeout_seconds(anon, silent_port):
    """operations.md: HEALTH_CHECK_TIMEOUT_SECONDS (default 2) bounds the broker check: the TCP
    connect (pika socket_timeout) and the AMQP handshake (pika stack_timeout, 15 s by default)."""
    with override_settings(
        RABBITMQ_URL=f"amqp://guest:guest@127.0.0.1:{silent_port}/%2F", HEALTH_CHECK_TIMEOUT_SECONDS=1
    ):
        started = time.monotonic()
        response = anon.get("/api/health/")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["checks"]["broker"]["status"] == "down"
    assert elapsed < 5, f"health took {elapsed:.1f}s with HEALTH_CHECK_TIMEOUT_SECONDS=1"


@pytest.mark.django_db
def test_the_cache_check_respects_health_check_timeout_seconds(anon, silent_port):
    """The Django cache's Redis client has no timeout: the check uses one of its own, bounded by
    HEALTH_CHECK_TIMEOUT_SECONDS, so a hung Redis makes health "degraded", in time."""
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{silent_port}/0",
        }
    }
    with override_settings(CACHES=caches, HEALTH_CHECK_TIMEOUT_SECONDS=1):
        started = time.monotonic()
        response = anon.get("/api/health/")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "down"
    assert elapsed < 5, f"health took {elapsed:.1f}s with HEALTH_CHECK_TIMEOUT_SECONDS=1"


@pytest.mark.django_db
def test_the_cache_check_on_redis_writes_and_reads(anon):
    checks = anon.get("/api/health/").json()["checks"]
    assert checks["cache"]["status"] == "ok"
    assert checks["cache"]["backend"] == "RedisCache"

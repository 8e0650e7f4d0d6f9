"""GET /api/health/: database, cache, broker and relay-lag checks.

503 when the database is unreachable (the service cannot work) or the oldest unsent event is older
than EVENTS_LAG_UNHEALTHY_SECONDS (consumers are that far behind); a cache or broker outage alone
reports "degraded" with 200, because the API keeps working and events wait in the outbox.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pika
import redis
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def _timed(check) -> dict[str, Any]:
    started = time.monotonic()
    try:
        result = {"status": "ok", **(check() or {})}
    except Exception as exc:
        result = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    result["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def check_database() -> dict[str, Any]:
    from events.selectors import outbox_lag

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    lag = outbox_lag()
    return {
        "vendor": connection.vendor,
        "outbox_pending": lag["pending"],
        "outbox_oldest_pending_age_seconds": lag["oldest_pending_age_seconds"],
    }


def check_relay(database: dict[str, Any]) -> dict[str, Any]:
    """The relay's lag: age of the oldest unsent event. Past EVENTS_LAG_UNHEALTHY_SECONDS the
    service is unhealthy: consumers are that far behind."""
    if not settings.RABBITMQ_URL:
        return {"status": "disabled", "detail": "RABBITMQ_URL not set: events stay in the outbox"}
    if database.get("status") != "ok":
        return {"status": "unknown"}
    lag = database["outbox_oldest_pending_age_seconds"]
    threshold = settings.EVENTS_LAG_UNHEALTHY_SECONDS
    return {
        "status": "lagging" if lag > threshold else "ok",
        "lag_seconds": lag,
        "pending": database["outbox_pending"],
        "threshold_seconds": threshold,
    }


def check_cache() -> dict[str, Any]:
    """A write and a read of the default cache. On Redis through a client of its own bounded by
    HEALTH_CHECK_TIMEOUT_SECONDS: the cache's client has no timeout, so a Redis that accepts
    connections and never answers would hold the health request past the load balancer's timeout."""
    config = settings.CACHES["default"]
    backend = config["BACKEND"].rsplit(".", 1)[-1]
    key = f"health:{uuid.uuid4().hex}"
    if config["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        location = config["LOCATION"]
        url = location.split(",")[0] if isinstance(location, str) else location[0]  # the primary
        timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.set(key, b"1", ex=5)
            if client.get(key) != b"1":
                raise RuntimeError("cache did not return the value just written")
            client.delete(key)
        finally:
            client.close()
        return {"backend": backend}
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return the value just written")
    cache.delete(key)
    return {"backend": backend}


def check_broker() -> dict[str, Any]:
    if not settings.RABBITMQ_URL:
        return {"status": "disabled", "detail": "RABBITMQ_URL not set: events stay in the outbox"}
    params = pika.URLParameters(settings.RABBITMQ_URL)
    # socket_timeout bounds the TCP connect only; stack_timeout bounds the whole connection set-up
    # (TCP, TLS, the AMQP handshake), which otherwise waits pika's default 15 s for a broker that
    # accepts connections and never answers.
    params.socket_timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    params.stack_timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    params.blocked_connection_timeout = settings.HEALTH_CHECK_TIMEOUT_SECONDS
    params.connection_attempts = 1
    params.retry_delay = 0
    conn = pika.BlockingConnection(params)
    try:
        product = conn._impl.server_properties.get("product", "amqp")
        return {"server": product.decode() if isinstance(product, bytes) else str(product)}
    finally:
        conn.close()


HealthSerializer = inline_serializer(
    "Health",
    fields={
        "status": serializers.ChoiceField(choices=["ok", "degraded", "down"]),
        "checks": serializers.DictField(),
        "time": serializers.DateTimeField(),
    },
)


class HealthView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="Service health", responses={200: HealthSerializer, 503: HealthSerializer}, auth=[]
    )
    def get(self, request: Request) -> Response:
        checks = {
            "database": _timed(check_database),
            "cache": _timed(check_cache),
            "broker": _timed(check_broker),
        }
        checks["relay"] = check_relay(checks["database"])
        if checks["database"]["status"] == "down" or checks["relay"]["status"] == "lagging":
            overall, code = "down", 503
        elif any(c["status"] == "down" for c in checks.values()):
            overall, code = "degraded", 200
        else:
            overall, code = "ok", 200
        return Response({"status": overall, "checks": checks, "time": timezone.now()}, status=code)

"""Rate limits per tenant, per API key (or user) and for expensive starts, by the tenant's plan,
counted in Redis so that every web process shares them.

Why not DRF's SimpleRateThrottle: it keeps a list of request times per key in the cache, reads it,
appends and writes it back. Two processes doing that at once both write back their own list, so
requests are lost from the count exactly under the concurrency a limit exists for, and the list
grows with the limit. Here every bucket is one Redis key holding one number, updated by one Lua
script (GCRA, the generic cell rate algorithm) that checks and charges all of a request's buckets
atomically in one round trip: a request refused by one bucket charges none, and Redis' own clock
is the only clock, so processes on several machines agree.

GCRA: a bucket of `limit` requests per `period` allows a burst of `limit` requests, then one every
`period / limit` seconds; Retry-After is the time until the next request fits (no window edge at
which twice the limit passes, as with fixed windows).

Fail open: without Redis (the embedded default), while Redis is unreachable, or with a URL redis-py
cannot use (settings refuses those at start-up), requests pass unlimited and a warning is logged.
Only tenant-scoped API views are limited: health, the schema, Swagger UI and the admin are not.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import redis
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from rest_framework import exceptions, status
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

# KEYS: the buckets; ARGV: per bucket, its emission interval (period / limit) and its burst
# (limit * interval), in whole microseconds (exact in Lua's doubles; milliseconds would round an
# interval of a high limit to 0). Each key holds the bucket's "theoretical arrival time".
# Returns {allowed, index of the refusing bucket (0-based, -1), then per bucket: requests left,
# microseconds until a request fits, microseconds until the bucket is full again}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = #KEYS
local tats = {}
local refused = -1
local wait = 0
for i = 1, n do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  tats[i] = tat
  local over = tat + interval - now - burst
  if over > wait then
    refused = i - 1
    wait = over
  end
end
local out = {refused == -1 and 1 or 0, refused}
for i = 1, n do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tats[i]
  if refused == -1 then
    tat = tat + interval
    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.max(1, math.ceil((tat - now) / 1000)))
  end
  local remaining = math.max(0, math.floor((burst - (tat - now)) / interval))
  table.insert(out, remaining)
  table.insert(out, math.max(0, tat + interval - now - burst))
  table.insert(out, tat - now)
end
return out
"""


@dataclass(frozen=True)
class Bucket:
    scope: str  # tenant | api_key | user | expensive
    key: str
    limit: int
    period: int  # seconds

    def describe(self, plan: str) -> str:
        whom = {
            "tenant": "this tenant",
            "api_key": "this API key",
            "user": "this user in this tenant",
            "expensive": "expensive operations (imports, exports, bulk changes) of this tenant",
        }[self.scope]
        return f"{self.limit} requests per {_period(self.period)} for {whom} (plan {plan})"


def _period(seconds: int) -> str:
    return "minute" if seconds == 60 else f"{seconds} seconds"


@dataclass(frozen=True)
class Outcome:
    allowed: bool
    bucket: Bucket  # the refusing bucket, or the one with the fewest requests left
    remaining: int
    retry_after: float  # seconds until the next request fits in `bucket`
    reset_after: float  # seconds until `bucket` is full again


class _Redis:
    """One client per URL, and a short pause after a failure so an outage costs each request
    nothing (no connection attempt, no timeout) until the retry time comes."""

    def __init__(self, url: str):
        self.url = url
        self.down_until = 0.0
        self.script = None
        try:
            client = redis.Redis.from_url(
                url,
                socket_connect_timeout=settings.RATE_LIMIT_REDIS_TIMEOUT_SECONDS,
                socket_timeout=settings.RATE_LIMIT_REDIS_TIMEOUT_SECONDS,
            )
            self.script = client.register_script(_GCRA)
        except Exception as exc:  # a URL redis-py cannot use: fail open, as in an outage
            # settings refuses such a URL at start-up; this is the last line of defence (a URL set at
            # run time). Kept for the URL, so the warning is logged once and no request pays for it.
            logger.warning(
                "Rate limits are off: RATE_LIMIT_REDIS_URL / REDIS_URL %s is not usable (%s: %s); "
                "requests pass unlimited",
                redact(url),
                type(exc).__name__,
                exc,
            )

    def hit(self, buckets: list[Bucket]) -> list[int] | None:
        if self.script is None or time.monotonic() < self.down_until:
            return None
        args: list[int] = []
        for bucket in buckets:
            interval = max(1, bucket.period * 1_000_000 // bucket.limit)
            args += [interval, interval * bucket.limit]
        try:
            return [int(v) for v in self.script(keys=[b.key for b in buckets], args=args)]
        except (redis.RedisError, OSError) as exc:
            self.down_until = time.monotonic() + settings.RATE_LIMIT_REDIS_RETRY_SECONDS
            logger.warning(
                "Rate limits not enforced for %ss: Redis at %s failed (%s: %s); requests pass unlimited",
                settings.RATE_LIMIT_REDIS_RETRY_SECONDS,
                redact(self.url),
                type(exc).__name__,
                exc,
            )
            return None


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:  # no scheme at all ("user:pass@host:6379"): the password is still there
        scheme, rest = "", url
    if "@" in rest:
        rest = "***@" + rest.rsplit("@", 1)[1]
    return f"{scheme}{sep}{rest}"


_clients: dict[str, _Redis] = {}
_lock = threading.Lock()
_warned_unconfigured = False


def _redis() -> _Redis | None:
    global _warned_unconfigured
    url = settings.RATE_LIMIT_REDIS_URL
    if not url:
        if not _warned_unconfigured:
            _warned_unconfigured = True
            logger.warning("Rate limits are off: no Redis configured (RATE_LIMIT_REDIS_URL / REDIS_URL)")
        return None
    with _lock:
        client = _clients.get(url)
        if client is None:
            client = _clients[url] = _Redis(url)
    return client


def plan_limits(plan: str) -> dict[str, int]:
    plans = settings.RATE_LIMIT_PLANS
    return plans.get(plan) or plans["standard"]


def request_buckets(request, view) -> tuple[str, list[Bucket]]:
    """The tenant's plan and the buckets this request is charged to."""
    access = request.tenant_access
    tenant = access.tenant
    plan = tenant.plan
    limits = plan_limits(plan)
    period = settings.RATE_LIMIT_PERIOD_SECONDS
    # The tenant id in braces: every key of one tenant hashes to one Redis Cluster slot, which a
    # script touching several keys needs.
    prefix = f"ratelimit:{{{tenant.pk}}}"
    buckets = [Bucket("tenant", f"{prefix}:tenant", limits["tenant"], period)]
    if access.actor.type == "api_key":
        buckets.append(Bucket("api_key", f"{prefix}:key:{access.actor.id}", limits["api_key"], period))
    else:
        buckets.append(Bucket("user", f"{prefix}:user:{access.actor.id}", limits["user"], period))
    if is_expensive(request, view):
        buckets.append(Bucket("expensive", f"{prefix}:expensive", limits["expensive"], period))
    return plan, buckets


def is_expensive(request, view) -> bool:
    """A view lists its expensive actions in `expensive_actions` ("action" or "action:method", as in
    permission_map)."""
    actions = getattr(view, "expensive_actions", ())
    action = getattr(view, "action", None) or request.method.lower()
    return action in actions or f"{action}:{request.method.lower()}" in actions


def rate_limit_hit(request, view) -> tuple[str, Outcome] | None:
    """Charge the request to its buckets; None when it is not limited (no tenant, no Redis)."""
    if getattr(request, "tenant_access", None) is None:
        return None
    backend = _redis()
    if backend is None:
        return None
    plan, buckets = request_buckets(request, view)
    result = backend.hit(buckets)
    if result is None:
        return None
    allowed, refused = bool(result[0]), result[1]
    per_bucket = [result[2 + 3 * i : 5 + 3 * i] for i in range(len(buckets))]
    index = refused if refused >= 0 else min(range(len(buckets)), key=lambda i: per_bucket[i][0])
    remaining, retry_us, reset_us = per_bucket[index]
    return plan, Outcome(
        allowed=allowed,
        bucket=buckets[index],
        remaining=remaining,
        retry_after=retry_us / 1_000_000,
        reset_after=reset_us / 1_000_000,
    )


class RateLimited(exceptions.Throttled):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "rate_limited"

    def __init__(self, *, plan: str, outcome: Outcome):
        wait = max(1, math.ceil(outcome.retry_after))
        bucket = outcome.bucket
        message = (
            f"Rate limit exceeded: {bucket.describe(plan)}. Retry after {wait} second{'s' * (wait != 1)}."
        )
        # Not wait=: DRF's Throttled would append " Expected available in N seconds." to the message,
        # which already says when to retry (docs/api.md "Rate limits").
        super().__init__(detail=message, code=self.default_code)
        self.wait = wait  # whole seconds, as the Retry-After header says
        # Rendered into the body by the exception handler (contacts_service.errors).
        self.extra = {
            "retry_after": wait,
            "limit": {
                "scope": bucket.scope,
                "limit": bucket.limit,
                "period_seconds": bucket.period,
                "plan": plan,
            },
        }


class PlanRateThrottle(BaseThrottle):
    """The DRF throttle of every API view (DEFAULT_THROTTLE_CLASSES). It runs after authentication
    and the tenant (TenantScopedMixin.initial), so it knows the tenant's plan and the credential.

    It raises RateLimited itself instead of returning False: DRF's own Throttled has no room for
    naming the limit in the body."""

    def allow_request(self, request, view) -> bool:
        hit = rate_limit_hit(request, view)
        if hit is None:
            return True
        plan, outcome = hit
        # Read by RateLimitHeadersMiddleware for the X-RateLimit-* headers of the response.
        request._request.rate_limit = outcome
        if not outcome.allowed:
            raise RateLimited(plan=plan, outcome=outcome)
        return True


class RateLimitHeadersMiddleware:
    """X-RateLimit-Limit / -Remaining / -Reset on every limited response (the bucket with the
    fewest requests left, or the one that refused), and Retry-After on a 429."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        outcome: Outcome | None = getattr(request, "rate_limit", None)
        if outcome is not None:
            response["X-RateLimit-Limit"] = str(outcome.bucket.limit)
            response["X-RateLimit-Remaining"] = str(outcome.remaining)
            response["X-RateLimit-Reset"] = str(math.ceil(outcome.reset_after))
            response["X-RateLimit-Scope"] = outcome.bucket.scope
        return response

"""Rate limits per tenant, API key, user and expensive operation, by plan, counted in the real Redis."""

from __future__ import annotations

import io
import logging
import multiprocessing
import socket

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from contacts.models import Contact
from contacts_service import throttling
from contacts_service.models import Plan, Tenant
from contacts_service.roles import Role
from contacts_service.settings import rate_limit_plans
from tests.factories import TenantFactory, UserFactory

LIST = reverse("contact-list")
HIGH = 1_000


def plans(**per_plan) -> dict[str, dict[str, int]]:
    """RATE_LIMIT_PLANS with every limit HIGH except the ones given, e.g. standard={"api_key": 3}."""
    base = {"tenant": HIGH, "api_key": HIGH, "user": HIGH, "expensive": HIGH}
    return {name: {**base, **per_plan.get(name, {})} for name in ("free", "standard", "enterprise")}


def free_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.django_db
def test_an_api_key_over_its_limit_gets_429_naming_the_limit_and_other_keys_go_on(client_for, tenant):
    # given a standard plan allowing 3 requests a minute per API key
    with override_settings(RATE_LIMIT_PLANS=plans(standard={"api_key": 3})):
        client = client_for(tenant, Role.OWNER)
        remaining = []
        for _ in range(3):
            response = client.get(LIST)
            assert response.status_code == 200
            assert response["X-RateLimit-Limit"] == "3"
            remaining.append(response["X-RateLimit-Remaining"])
        assert remaining == ["2", "1", "0"]

        # when the fourth comes within the minute
        refused = client.get(LIST)

        # then 429 in the error shape, naming the limit, with Retry-After
        assert refused.status_code == 429
        body = refused.json()
        assert body["code"] == "rate_limited"
        assert "3 requests per minute for this API key (plan standard)" in body["message"]
        retry_after = int(refused["Retry-After"])
        assert 1 <= retry_after <= 20  # one request every 60 / 3 seconds
        assert f"Retry after {retry_after} seconds" in body["message"]
        assert body["retry_after"] == retry_after
        assert body["limit"] == {"scope": "api_key", "limit": 3, "period_seconds": 60, "plan": "standard"}
        assert body["correlation_id"] and body["errors"] == []
        assert refused["X-RateLimit-Remaining"] == "0" and refused["X-RateLimit-Scope"] == "api_key"

        # a refused write writes nothing
        created = client.post(LIST, {"email": "late@example.com"}, format="json")
        assert created.status_code == 429
        assert not Contact.objects.for_tenant(tenant).filter(email="late@example.com").exists()

        # another key of the same tenant has its own bucket
        assert client_for(tenant, Role.OWNER).get(LIST).status_code == 200


@pytest.mark.django_db
def test_the_tenant_limit_is_shared_by_its_keys_and_users_but_not_by_other_tenants(
    client_for, user_client_for, tenant, other_tenant
):
    with override_settings(RATE_LIMIT_PLANS=plans(standard={"tenant": 4})):
        first, second = client_for(tenant), client_for(tenant)
        user_client, _ = user_client_for(tenant, Role.CONTACTS_VIEWER)
        statuses = [c.get(LIST).status_code for c in (first, second, user_client, first)]
        assert statuses == [200, 200, 200, 200]
        refused = user_client.get(LIST)
        assert refused.status_code == 429
        assert refused.json()["limit"]["scope"] == "tenant"
        assert "4 requests per minute for this tenant" in refused.json()["message"]
        assert second.get(LIST).status_code == 429
        assert client_for(other_tenant).get(LIST).status_code == 200


@pytest.mark.django_db
def test_limits_follow_the_tenant_plan(client_for):
    free = TenantFactory(plan=Plan.FREE)
    enterprise = TenantFactory(plan=Plan.ENTERPRISE)
    assert TenantFactory().plan == Plan.STANDARD  # the default
    limits = plans(free={"tenant": 2}, standard={"tenant": 3}, enterprise={"tenant": 5})
    with override_settings(RATE_LIMIT_PLANS=limits):
        for tenant, allowed in ((free, 2), (enterprise, 5)):
            client = client_for(tenant)
            statuses = [client.get(LIST).status_code for _ in range(allowed + 1)]
            assert statuses == [200] * allowed + [429], tenant.plan
            assert f"(plan {tenant.plan})" in client.get(LIST).json()["message"]


@pytest.mark.django_db
def test_a_user_has_a_bucket_per_tenant(user_client_for, tenant):
    with override_settings(RATE_LIMIT_PLANS=plans(standard={"user": 2})):
        client, _ = user_client_for(tenant, Role.OWNER)
        assert [client.get(LIST).status_code for _ in range(3)] == [200, 200, 429]
        assert client.get(LIST).json()["limit"]["scope"] == "user"
        other, _ = user_client_for(tenant, Role.OWNER)
        assert other.get(LIST).status_code == 200


@pytest.mark.django_db
def test_expensive_starts_have_their_own_lower_limit(client_for, tenant):
    with override_settings(RATE_LIMIT_PLANS=plans(standard={"expensive": 1})):
        client = client_for(tenant)
        assert client.post(reverse("export-list"), {}, format="json").status_code == 201
        refused = client.post(reverse("export-list"), {}, format="json")
        assert refused.status_code == 429
        assert refused.json()["limit"]["scope"] == "expensive"
        assert "expensive operations" in refused.json()["message"]
        # reads and cheap writes are not charged to it
        assert client.get(reverse("export-list")).status_code == 200
        assert client.post(LIST, {"email": "a@example.com"}, format="json").status_code == 201


@pytest.mark.django_db
def test_health_and_admin_are_not_limited(client, tenant):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    with override_settings(RATE_LIMIT_PLANS=plans(standard={"tenant": 1, "user": 1, "api_key": 1})):
        for _ in range(3):
            health = client.get(reverse("health"))
            assert health.status_code != 429 and "X-RateLimit-Limit" not in health
            page = client.get(reverse("admin:contacts_service_tenant_changelist"))
            assert page.status_code == 200 and "X-RateLimit-Limit" not in page


@pytest.mark.django_db
def test_with_redis_unreachable_requests_pass_and_a_warning_is_logged(client_for, tenant, caplog):
    # given the limiter's Redis on a port nothing listens on (a real connection refused, no mock)
    url = f"redis://127.0.0.1:{free_port()}/0"
    with override_settings(RATE_LIMIT_REDIS_URL=url, RATE_LIMIT_PLANS=plans(standard={"api_key": 1})):
        client = client_for(tenant)
        with caplog.at_level(logging.WARNING, logger="contacts_service.throttling"):
            responses = [client.get(LIST) for _ in range(3)]
    # then every request passes (fail open), without rate-limit headers
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert all("X-RateLimit-Limit" not in r for r in responses)
    # and one warning says so (Redis is not retried on every request)
    warnings = [r for r in caplog.records if "Rate limits not enforced" in r.getMessage()]
    assert len(warnings) == 1
    assert f"127.0.0.1:{url.rsplit(':', 1)[1]}" in warnings[0].getMessage()


@pytest.mark.django_db
def test_without_redis_configured_requests_pass_and_a_warning_is_logged(
    client_for, tenant, caplog, monkeypatch
):
    monkeypatch.setattr(throttling, "_warned_unconfigured", False)
    with override_settings(RATE_LIMIT_REDIS_URL="", RATE_LIMIT_PLANS=plans(standard={"api_key": 1})):
        client = client_for(tenant)
        with caplog.at_level(logging.WARNING, logger="contacts_service.throttling"):
            assert [client.get(LIST).status_code for _ in range(3)] == [200, 200, 200]
    assert [r.getMessage() for r in caplog.records if "Rate limits are off" in r.getMessage()] == [
        "Rate limits are off: no Redis configured (RATE_LIMIT_REDIS_URL / REDIS_URL)"
    ]


def _charge(args: tuple[str, int, int]) -> int:
    key, limit, times = args
    backend = throttling._redis()
    bucket = throttling.Bucket("tenant", key, limit, 60)
    return sum(backend.hit([bucket])[0] for _ in range(times))


@pytest.mark.django_db
def test_a_bucket_holds_across_processes_exactly(tenant):
    # given 4 processes (forked web workers) charging one bucket of 50 a minute 25 times each
    key = f"ratelimit:{{{tenant.pk}}}:tenant"
    context = multiprocessing.get_context("fork")
    with context.Pool(4) as pool:
        allowed = pool.map(_charge, [(key, 50, 25)] * 4)
    # then exactly 50 requests passed in all: the script checks and charges atomically
    assert sum(allowed) == 50
    assert _charge((key, 50, 1)) == 0


def test_rate_limit_plans_from_the_environment_override_the_defaults():
    plans_ = rate_limit_plans('{"free": {"tenant": 7}, "gold": {"api_key": 9}}')
    assert plans_["free"]["tenant"] == 7 and plans_["free"]["api_key"] == 60
    assert plans_["gold"] == {"tenant": 1200, "api_key": 9, "user": 600, "expensive": 30}
    assert rate_limit_plans("")["standard"]["tenant"] == 1200
    for bad in ("not json", "[1]", '{"free": 5}', '{"free": {"tenant": 0}}', '{"free": {"burst": 5}}'):
        with pytest.raises(ImproperlyConfigured):
            rate_limit_plans(bad)


@pytest.mark.django_db
def test_tenant_create_puts_a_tenant_on_a_plan():
    out = io.StringIO()
    call_command("tenant_create", "Small Co", owner="owner@small.test", plan="free", stdout=out)
    assert "plan: free" in out.getvalue()
    assert Tenant.objects.get(name="Small Co").plan == Plan.FREE
    with pytest.raises(CommandError):
        call_command("tenant_create", "Odd Co", owner="owner@odd.test", plan="platinum")
    assert not Tenant.objects.filter(name="Odd Co").exists()

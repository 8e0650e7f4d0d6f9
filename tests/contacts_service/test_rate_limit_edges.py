"""Rate limits: a malformed limiter URL, custom plans, the 429 message (docs/api.md "Rate limits")."""

from __future__ import annotations

import json
import logging
import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings
from django.urls import reverse

from contacts_service import services
from contacts_service.errors import ValidationFailed
from contacts_service.models import Tenant
from contacts_service.roles import Role
from contacts_service.settings import rate_limit_plans
from tests.factories import UserFactory

ME = reverse("me")
LIST = reverse("contact-list")
HIGH = 1_000


def save_tenant_in_admin(client, tenant: Tenant, *, name: str, plan: str):
    """POST the admin's change form of `tenant` (no membership rows)."""
    counts = {"TOTAL_FORMS": "0", "INITIAL_FORMS": "0", "MIN_NUM_FORMS": "0", "MAX_NUM_FORMS": "1000"}
    inline = {f"memberships-{key}": value for key, value in counts.items()}
    return client.post(
        reverse("admin:contacts_service_tenant_change", args=[tenant.pk]),
        {"name": name, "plan": plan, "is_active": "on", **inline},
    )


def plans(**per_plan) -> dict[str, dict[str, int]]:
    base = {"tenant": HIGH, "api_key": HIGH, "user": HIGH, "expensive": HIGH}
    return {name: {**base, **per_plan.get(name, {})} for name in ("free", "standard", "enterprise")}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["127.0.0.1:6379", "http://127.0.0.1:6379/0"])
def test_a_malformed_rate_limit_redis_url_does_not_turn_every_api_request_into_a_500(client_for, tenant, url):
    """docs/api.md: an outage of the limiter's store must not take the API down. settings refuses a
    RATE_LIMIT_REDIS_URL (or REDIS_URL) without a redis:// scheme at start-up (test_settings_env); one
    that reaches the limiter anyway (set at run time) leaves requests unlimited, not a 500."""
    client = client_for(tenant, Role.OWNER)
    client.raise_request_exception = False
    with override_settings(RATE_LIMIT_REDIS_URL=url):
        response = client.get(ME)
    assert response.status_code == 200, response.json()


@pytest.mark.django_db
def test_an_unusable_rate_limit_redis_url_is_logged_once_without_its_password(client_for, tenant, caplog):
    url = f"http://limiter:s3cret@{uuid.uuid4().hex}.invalid:6379/0"  # a URL no other test used
    client = client_for(tenant, Role.OWNER)
    with (
        override_settings(RATE_LIMIT_REDIS_URL=url),
        caplog.at_level(logging.WARNING, "contacts_service.throttling"),
    ):
        for _ in range(3):
            response = client.get(ME)
            assert response.status_code == 200
            assert "X-RateLimit-Limit" not in response
    warnings = [r.getMessage() for r in caplog.records if r.name == "contacts_service.throttling"]
    assert len(warnings) == 1, warnings
    assert "not usable" in warnings[0] and "s3cret" not in warnings[0]


@pytest.mark.django_db
def test_a_custom_plan_from_rate_limit_plans_can_be_given_to_a_tenant_in_the_admin(client, tenant):
    """operations.md: RATE_LIMIT_PLANS may add plans ("partner": a new plan starts from standard's),
    and operators set a tenant's plan in the admin: its choices are the built-in plans and those."""
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    partner = rate_limit_plans(json.dumps({"partner": {"api_key": 3000}}))
    with override_settings(RATE_LIMIT_PLANS=partner):
        response = save_tenant_in_admin(client, tenant, name=tenant.name, plan="partner")
    assert b"Select a valid choice" not in response.content
    tenant.refresh_from_db()
    assert tenant.plan == "partner"


@pytest.mark.django_db
def test_a_custom_plan_from_rate_limit_plans_can_be_given_with_tenant_create():
    """operations.md: `tenant_create --plan`, with the built-in plans and those RATE_LIMIT_PLANS adds."""
    partner = rate_limit_plans(json.dumps({"partner": {"api_key": 3000}}))
    with override_settings(RATE_LIMIT_PLANS=partner):
        call_command(
            "tenant_create", "Partner Co", "--owner", "p@partner.test", "--plan", "partner", stdout=StringIO()
        )
    assert Tenant.objects.get(name="Partner Co").plan == "partner"


@pytest.mark.django_db
def test_a_plan_rate_limit_plans_does_not_define_is_refused():
    with pytest.raises(CommandError):
        call_command(
            "tenant_create", "Partner Co", "--owner", "p@partner.test", "--plan", "partner", stdout=StringIO()
        )
    with pytest.raises(ValidationFailed) as refused:
        services.tenant_create(name="Partner Co", owner_email="p@partner.test", plan="partner")
    assert refused.value.errors[0]["field"] == "plan"
    assert not Tenant.objects.filter(name="Partner Co").exists()


@pytest.mark.django_db
def test_a_tenant_on_a_custom_plan_is_limited_by_it(client_for):
    tenant = Tenant.objects.create(name="Partner Co", plan="partner")
    custom = {**plans(), "partner": {"tenant": HIGH, "api_key": 1, "user": HIGH, "expensive": HIGH}}
    with override_settings(RATE_LIMIT_PLANS=custom):
        client = client_for(tenant, Role.OWNER)
        assert client.get(LIST).status_code == 200
        refused = client.get(LIST)
    assert refused.status_code == 429
    assert refused.json()["limit"]["plan"] == "partner"


@pytest.mark.django_db
def test_the_429_message_is_the_documented_one(client_for, tenant):
    """docs/api.md shows the message "Rate limit exceeded: ... (plan standard). Retry after N second(s)."
    and nothing after it (DRF's Throttled would append " Expected available in N seconds.")."""
    with override_settings(RATE_LIMIT_PLANS=plans(standard={"api_key": 1})):
        client = client_for(tenant, Role.OWNER)
        assert client.get(LIST).status_code == 200
        refused = client.get(LIST)
    assert refused.status_code == 429
    body = refused.json()
    wait = body["retry_after"]
    assert refused["Retry-After"] == str(wait)
    assert body["message"] == (
        f"Rate limit exceeded: 1 requests per minute for this API key (plan standard). "
        f"Retry after {wait} second{'s' * (wait != 1)}."
    )


@pytest.mark.django_db
def test_a_tenant_on_a_plan_no_longer_defined_can_still_be_saved_in_the_admin(operator_client):
    """Found by a bug hunt: a plan removed from RATE_LIMIT_PLANS left its tenants unsaveable in the
    admin ("Select a valid choice") until an operator picked another plan, even to rename the tenant.
    Such a tenant has standard's limits (throttling.plan_limits); its plan is kept and shown as such."""
    tenant = Tenant.objects.create(name="Old Partner", plan="partner")
    url = reverse("admin:contacts_service_tenant_change", args=[tenant.pk])
    page = operator_client.get(url)
    assert page.status_code == 200
    assert "partner (not in RATE_LIMIT_PLANS: standard limits)" in page.content.decode()

    response = save_tenant_in_admin(operator_client, tenant, name="Renamed Partner", plan="partner")

    assert response.status_code == 302, response.content.decode()[:3000]
    tenant.refresh_from_db()
    assert (tenant.name, tenant.plan) == ("Renamed Partner", "partner")
    other = Tenant.objects.create(name="Other")
    refused = save_tenant_in_admin(operator_client, other, name="Other", plan="partner")
    assert refused.status_code == 200 and "Select a valid choice" in refused.content.decode()
    other.refresh_from_db()
    assert other.plan == "standard"


@pytest.mark.django_db
def test_when_two_buckets_are_over_retry_after_is_the_longest_wait_and_names_that_bucket(client_for, tenant):
    """A client told "Retry-After: N" can send after N seconds: with the tenant bucket (4/min: one every
    15 s) and the key bucket (3/min: one every 20 s) both used up, the 429 names the key bucket and its
    20 s, not the tenant's 15 s (after which the key still refuses)."""
    with override_settings(RATE_LIMIT_PLANS=plans(standard={"tenant": 4, "api_key": 3})):
        key = client_for(tenant, Role.OWNER)
        other_key = client_for(tenant, Role.OWNER)
        assert other_key.get(LIST).status_code == 200  # tenant: 1 used
        for _ in range(3):  # tenant: 4 used, key: 3 used
            assert key.get(LIST).status_code == 200

        refused = key.get(LIST)

        assert refused.status_code == 429
        body = refused.json()
        assert body["limit"]["scope"] == "api_key"
        assert refused["X-RateLimit-Scope"] == "api_key"
        assert refused["X-RateLimit-Limit"] == "3"
        assert refused["X-RateLimit-Remaining"] == "0"
        assert 16 <= int(refused["Retry-After"]) <= 20
        assert body["retry_after"] == int(refused["Retry-After"])

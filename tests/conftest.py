"""Fixtures shared by every test: tenants and API clients holding a given role."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import jwt
import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from contacts_service import services
from contacts_service.models import Tenant, User
from contacts_service.roles import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory


@pytest.fixture(autouse=True)
def _celery_join_flag():
    """Celery keeps "is a result join forbidden here" in one process-wide flag that an eager task
    sets and restores around its run (Task.apply: denied_join_result). Tests that run eager tasks
    from several threads at once can interleave the save/restore and leave it set, and every later
    `.delay().get()` raises "Never call result.get() within a task!". Start each test unset."""
    from celery import _state

    _state._set_task_join_will_block(False)
    yield


@pytest.fixture
def tenant(db) -> Tenant:
    return TenantFactory(name="Acme")


@pytest.fixture
def other_tenant(db) -> Tenant:
    return TenantFactory(name="Globex")


@pytest.fixture
def client_for(db) -> Callable[..., APIClient]:
    """client_for(tenant, role) -> an APIClient authenticated with a fresh API key of that role."""

    def make(tenant: Tenant, role: str = Role.OWNER) -> APIClient:
        issued = services.apikey_create(tenant=tenant, name=f"test-{role}", role=role)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {issued.key}")
        client.api_key = issued.api_key
        return client

    return make


@pytest.fixture
def api(client_for, tenant) -> APIClient:
    """An owner's client of `tenant`."""
    return client_for(tenant, Role.OWNER)


@pytest.fixture
def operator(db) -> User:
    """A superuser of the Django admin."""
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def operator_client(client, operator):
    """Django's test client logged in to the admin as `operator`."""
    client.force_login(operator)
    return client


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


@pytest.fixture
def user_client_for(db) -> Callable[..., tuple[APIClient, User]]:
    """user_client_for(tenant, role) -> (client, user): a platform user (JWT bearer token, as the auth
    service issues) who is a member of `tenant` with that role."""

    def make(tenant: Tenant, role: str = Role.OWNER) -> tuple[APIClient, User]:
        user = UserFactory(auth_subject=f"sub-{uuid.uuid4()}")
        MembershipFactory(tenant=tenant, user=user, role=role)
        claims = {
            "sub": user.auth_subject,
            "email": user.email,
            "aud": settings.JWT_AUDIENCE,
            "iss": settings.JWT_ISSUER,
            "exp": timezone.now() + dt.timedelta(minutes=5),
        }
        token = jwt.encode(claims, settings.JWT_VERIFYING_KEY, algorithm="HS256")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        return client, user

    return make


@pytest.fixture
def broker(settings):
    """A real RabbitMQ exchange of this test's own, with a queue bound to it, that the relay publishes
    to (EVENTS_EXCHANGE); deleted afterwards. (The consumer's and the worker-kill tests have brokers
    of their own.)"""
    from tests.events.broker_helpers import make_broker

    broker = make_broker()
    settings.EVENTS_EXCHANGE = broker.exchange
    yield broker
    broker.cleanup()

"""Fixtures shared by every test: tenants and API clients holding a given role."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from contacts_service import services
from contacts_service.models import Tenant
from contacts_service.roles import Role
from tests.factories import TenantFactory


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
def anon() -> APIClient:
    return APIClient()

import pytest


@pytest.fixture
def raw(client_for, tenant):
    c = client_for(tenant)
    c.raise_request_exception = False
    return c

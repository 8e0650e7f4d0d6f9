import pytest

from contacts_service.roles import Role


@pytest.fixture
def owner(client_for, tenant):
    """An owner's client whose server errors come back as 500 responses, not raised exceptions."""
    client = client_for(tenant, Role.OWNER)
    client.raise_request_exception = False
    return client

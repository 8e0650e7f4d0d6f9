"""Every operation of the OpenAPI document, fuzzed by schemathesis, as two tenants.

As tenant A (who owns one of everything): no 5xx, every response as documented (status code,
content type, body schema), and data that breaks the schema is refused (negative generation).
As tenant B: the same, with tenant A's ids in the path too, and no response to B ever holds an id
of A's.

Each generated request runs in a savepoint that is rolled back after it, so every request sees
the same seeded state and a request that breaks its transaction cannot spoil the next one.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.db import transaction

from tests.contract.conftest import FUZZ_CONFIG

# The document as GET /api/schema/ serves it, read through the WSGI app that gunicorn runs.
schema = schemathesis.openapi.from_wsgi(
    "/api/schema/?format=json", WSGIHandler(), config=schemathesis.Config.from_dict(FUZZ_CONFIG)
)
# X-Tenant-ID is for JWT users; an API key decides its tenant and a key naming another one is a 403
# before the view runs, so a generated X-Tenant-ID would hide most operations behind that 403. The
# header has its own tests (tests/contacts_service/test_tenancy.py).
for _operations in schema.raw_schema["paths"].values():
    for _operation in _operations.values():
        if isinstance(_operation, dict) and "parameters" in _operation:
            _operation["parameters"] = [p for p in _operation["parameters"] if p["name"] != "X-Tenant-ID"]


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@schema.parametrize()
@pytest.mark.django_db
def test_tenant_a(case, seed, wsgi_app):
    """Tenant A, who owns one of everything."""
    with rolled_back():
        case.call_and_validate(headers=seed.a.headers)


# Which of tenant A's objects a path parameter names: by parameter, else by the collection the path
# starts with. The consent confirmation token is left out: it is the data subject's credential, not
# a tenant-scoped id (anyone holding the link may use it, whatever key they send).
PARAMETER_KINDS = {"contact_pk": "contact", "tag_id": "tag", "user_id": "user"}
COLLECTION_KINDS = {
    "contacts": "contact",
    "api-keys": "api-key",
    "attribute-definitions": "attribute-definition",
    "consent-purposes": "consent-purpose",
    "duplicates": "duplicate",
    "events": "event",
    "exports": "export",
    "imports": "import",
    "lists": "list",
    "merges": "merge",
    "tags": "tag",
}


def tenant_a_path_parameters(case, seed) -> dict[str, str]:
    collection = case.path.removeprefix("/api/v1/").split("/", 1)[0]
    found = {}
    for name in case.path_parameters or {}:
        kind = PARAMETER_KINDS.get(name) or COLLECTION_KINDS.get(collection)
        if name == "id" and case.path.startswith("/api/v1/contacts/{contact_pk}/identifiers/"):
            kind = "identifier"
        if kind:
            found[name] = seed.a_objects[kind]
    return found


def no_tenant_a_ids(seed):
    def check(ctx, response, case):
        text = response.content.decode("utf-8", "replace")
        leaked = sorted(i for i in seed.a_ids if i in text)
        assert not leaked, f"tenant B was shown tenant A's ids {leaked}"

    check.__name__ = "no_tenant_a_ids"
    return check


@schema.parametrize()
@pytest.mark.django_db
def test_tenant_b(case, seed, wsgi_app):
    """Tenant B, with what schemathesis generates and then with tenant A's ids in the path."""
    leak_check = no_tenant_a_ids(seed)
    with rolled_back():
        case.call_and_validate(headers=seed.b.headers, additional_checks=[leak_check])
    foreign = tenant_a_path_parameters(case, seed)
    # Only for requests of the documented method (schemathesis also sends TRACE and the like, which are
    # 405 whatever the id).
    if foreign and case.method.upper() == case.operation.method.upper():
        case.path_parameters = {**case.path_parameters, **foreign}
        with rolled_back():
            response = case.call(headers=seed.b.headers)
        leak_check(None, response, case)
        # 404 as for an id that never existed; 400/415 when the body is refused before the lookup.
        assert response.status_code in (400, 404, 415), (
            case.method,
            case.formatted_path,
            response.status_code,
        )


@pytest.mark.django_db
def test_the_leak_check_fails_on_a_response_holding_tenant_a_ids(seed):
    """The check is not vacuous: tenant A's own contact page holds A's ids, and it says so."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(**{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in seed.a.headers.items()})
    with rolled_back():
        response = client.get(f"/api/v1/contacts/{seed.a_objects['contact']}/")
    assert response.status_code == 200
    with pytest.raises(AssertionError, match="tenant A's ids"):
        no_tenant_a_ids(seed)(None, response, None)

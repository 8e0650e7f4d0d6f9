"""Validate a Django test-client response against the served OpenAPI document."""

from __future__ import annotations

import json

import pytest
import requests
import schemathesis
from rest_framework.test import APIClient
from schemathesis.core.transport import Response

_SCHEMA = {}


def openapi():
    if "s" not in _SCHEMA:
        raw = APIClient().get("/api/schema/?format=json")
        assert raw.status_code == 200
        _SCHEMA["raw"] = json.loads(raw.content)
        _SCHEMA["s"] = schemathesis.openapi.from_dict(_SCHEMA["raw"])
    return _SCHEMA["s"]


def raw_schema():
    openapi()
    return _SCHEMA["raw"]


def documented_statuses(path: str, method: str) -> set[str]:
    return set(raw_schema()["paths"][path][method.lower()]["responses"])


def validate(response, path: str, method: str):
    """Raise if `response` (Django test client) breaks the schema of operation (path, method): status
    code documented, content type, body schema."""
    prepared = requests.Request(method=method.upper(), url="http://testserver" + path).prepare()
    headers = {k: [v] for k, v in response.headers.items()}
    streaming = getattr(response, "streaming", False)
    content = b"".join(response.streaming_content) if streaming else response.content
    st = Response(
        status_code=response.status_code, headers=headers, content=content, request=prepared, elapsed=0.0,
        verify=True,
    )  # fmt: skip
    operation = openapi()[path][method.upper()]
    operation.validate_response(st)


@pytest.fixture
def schema_validate(db):
    return validate

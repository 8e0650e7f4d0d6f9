"""The OpenAPI schema of the merge endpoints is valid: every path parameter is in the path."""

import re

import pytest
from rest_framework.test import APIClient


@pytest.mark.django_db
def test_every_path_parameter_of_the_schema_is_in_its_path_template():
    """OpenAPI 3: a parameter `in: path` must name a `{template}` of its path, and each template must
    have exactly one. The merge and preview operations declare a `pk` path parameter
    (CONTACT_ID_PARAM) next to the `{id}` of their path `/api/v1/contacts/{id}/merge/`: a generated
    client asks for both, and validators reject the document."""
    schema = APIClient().get("/api/schema/?format=json").json()
    wrong = []
    for path, operations in schema["paths"].items():
        templates = set(re.findall(r"{([^}]+)}", path))
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "path"]
            if set(names) != templates or len(names) != len(set(names)):
                wrong.append((method.upper(), path, sorted(names)))
    assert wrong == []

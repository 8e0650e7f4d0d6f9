"""Strict validation of a test-client response against the served OpenAPI document: objects with
`properties` are closed (additionalProperties: false unless the schema says otherwise), so a field
the answer carries but the schema does not name is reported, as a typed client would drop it."""

from __future__ import annotations

import copy
import json

import jsonschema

from tests.contract.schema_check import raw_schema


def _convert(node, strict: bool):
    """OpenAPI 3.0 -> JSON Schema: nullable, $ref to #/definitions, closed objects."""
    if isinstance(node, list):
        return [_convert(n, strict) for n in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "$ref":
            out["$ref"] = value.replace("#/components/schemas/", "#/definitions/")
        elif key in ("readOnly", "writeOnly", "nullable", "example", "discriminator", "format"):
            continue
        else:
            out[key] = _convert(value, strict)
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        elif "$ref" in out or "allOf" in out or "oneOf" in out:
            out = {"anyOf": [out, {"type": "null"}]}
    if strict and "properties" in node and "additionalProperties" not in node:
        out["additionalProperties"] = False
    return out


def schema_of(path: str, method: str, status: int | str, strict: bool = True) -> dict:
    raw = raw_schema()
    response = raw["paths"][path][method.lower()]["responses"][str(status)]
    body = response["content"]["application/json"]["schema"]
    converted = _convert(copy.deepcopy(body), strict)
    converted["definitions"] = {
        name: _convert(copy.deepcopy(s), strict) for name, s in raw["components"]["schemas"].items()
    }
    return converted


def errors_of(response, path: str, method: str, strict: bool = True) -> list[str]:
    """The mismatches of `response` against its documented schema (status documented, body fits)."""
    raw = raw_schema()
    responses = raw["paths"][path][method.lower()]["responses"]
    if str(response.status_code) not in responses:
        return [f"status {response.status_code} not documented (documented: {sorted(responses)})"]
    body = json.loads(response.content)
    validator = jsonschema.Draft7Validator(schema_of(path, method, response.status_code, strict))
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message[:300]}"
        for e in validator.iter_errors(body)
    ]


def component(name: str) -> dict:
    return raw_schema()["components"]["schemas"][name]


def operation(path: str, method: str) -> dict:
    return raw_schema()["paths"][path][method.lower()]


def request_schema(path: str, method: str, content: str = "application/json") -> dict:
    raw = raw_schema()
    body = raw["paths"][path][method.lower()]["requestBody"]["content"][content]["schema"]
    converted = _convert(copy.deepcopy(body), strict=False)
    converted["definitions"] = {
        name: _convert(copy.deepcopy(s), strict=False) for name, s in raw["components"]["schemas"].items()
    }
    return converted


def request_errors(body, path: str, method: str, content: str = "application/json") -> list[str]:
    """Why `body` breaks the documented request schema of the operation (empty: the schema accepts it)."""
    validator = jsonschema.Draft7Validator(request_schema(path, method, content))
    return [
        f"{'/'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in validator.iter_errors(body)
    ]


def parameter(path: str, method: str, name: str) -> dict:
    return next(p for p in operation(path, method)["parameters"] if p["name"] == name)

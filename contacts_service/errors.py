"""One error format for every 4xx/5xx, and the exceptions services raise.

{"code": "validation_error", "message": "...",
 "errors": [{"field": "email", "code": "invalid", "message": "..."}],
 "correlation_id": "..."}
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from contacts_service.context import get_correlation_id

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """A business rule refused the operation; rendered as a 4xx by the exception handler."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None, **extra: Any):
        super().__init__(message)
        self.message = message
        self.field = field
        if code:
            self.code = code
        self.extra = extra


class ValidationFailed(ServiceError):
    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(self, errors: list[dict[str, str]], message: str = "Invalid input."):
        super().__init__(message)
        self.errors = errors


class Conflict(ServiceError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"


class NotFound(ServiceError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "Request body too large."


def flatten_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Turn DRF's nested error detail into [{field, code, message}] with dotted field paths."""
    if isinstance(detail, dict):
        out: list[dict[str, str]] = []
        for key, value in detail.items():
            if key == "non_field_errors":
                out.extend(flatten_errors(value, prefix))
            else:
                out.extend(flatten_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(detail, list):
        out = []
        for index, value in enumerate(detail):
            if isinstance(value, dict | list):
                out.extend(flatten_errors(value, f"{prefix}.{index}" if prefix else str(index)))
            else:
                out.extend(flatten_errors(value, prefix))
        return out
    code = getattr(detail, "code", None) or "invalid"
    return [{"field": prefix or None, "code": code, "message": str(detail)}]


def error_body(code: str, message: str, errors: list[dict[str, Any]] | None = None, **extra: Any) -> dict:
    body: dict[str, Any] = {"code": code, "message": message, "errors": errors or []}
    body.update(extra)
    body["correlation_id"] = get_correlation_id()
    return body


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: every error the API returns goes through here."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)

    if isinstance(exc, ValidationFailed):
        set_rollback()
        return Response(error_body("validation_error", exc.message, exc.errors), status=exc.status_code)
    if isinstance(exc, ServiceError):
        set_rollback()
        errors = [{"field": exc.field, "code": exc.code, "message": exc.message}] if exc.field else []
        return Response(error_body(exc.code, exc.message, errors, **exc.extra), status=exc.status_code)
    if not isinstance(exc, exceptions.APIException):
        return None

    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    set_rollback()

    if isinstance(exc, exceptions.ValidationError):
        body = error_body("validation_error", "Invalid input.", flatten_errors(exc.detail))
    else:
        detail = exc.detail
        if isinstance(detail, dict | list):
            body = error_body(exc.default_code, str(exc.default_detail), flatten_errors(detail))
        else:
            body = error_body(getattr(detail, "code", None) or exc.default_code, str(detail))
    body.update(getattr(exc, "extra", None) or {})  # e.g. a 429's limit and retry_after
    return Response(body, status=exc.status_code, headers=headers)


def json_error_response(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status_code)


def handler404(request, exception=None) -> JsonResponse:
    return json_error_response(404, "not_found", "Not found.")


def handler500(request) -> JsonResponse:
    return json_error_response(500, "server_error", "Internal server error.")


def handler400(request, exception=None) -> JsonResponse:
    return json_error_response(400, "bad_request", "Bad request.")


def handler403(request, exception=None) -> JsonResponse:
    return json_error_response(403, "permission_denied", "You do not have permission to perform this action.")

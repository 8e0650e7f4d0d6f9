"""Request context (correlation id, clean tenant scope) and the request body size limit."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from contacts_service.context import CORRELATION_ID_HEADER, clean_correlation_id, request_scope
from contacts_service.errors import json_error_response


class RequestContextMiddleware:
    """Gives each request a correlation id (the caller's X-Correlation-ID or a new one), echoes it
    back, and makes sure no tenant scope survives from one request to the next."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = clean_correlation_id(request.headers.get(CORRELATION_ID_HEADER))
        request.correlation_id = correlation_id
        with request_scope(correlation_id):
            response = self.get_response(request)
        response[CORRELATION_ID_HEADER] = correlation_id
        return response


class RequestLimitsMiddleware:
    """Refuses declared bodies over API_MAX_BODY_BYTES with a 413 before anything reads them
    (multipart uploads are limited by the endpoint that accepts them), and query strings holding
    NUL characters, which no database column can store or compare."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.META.get("QUERY_STRING", "") or "%00" in request.META.get("QUERY_STRING", ""):
            return json_error_response(
                400, "bad_request", "Query parameters must not contain NUL characters."
            )
        length = request.META.get("CONTENT_LENGTH")
        content_type = request.META.get("CONTENT_TYPE", "")
        if length and not content_type.startswith("multipart/form-data"):
            try:
                size = int(length)
            except ValueError:
                return json_error_response(400, "bad_request", "Invalid Content-Length header.")
            if size > settings.API_MAX_BODY_BYTES:
                return json_error_response(
                    413,
                    "payload_too_large",
                    f"Request body of {size} bytes exceeds the limit of {settings.API_MAX_BODY_BYTES} bytes.",
                )
        return self.get_response(request)

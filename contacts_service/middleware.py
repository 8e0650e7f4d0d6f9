"""Request context (correlation id, clean tenant scope), the access log and request metrics, and
the request body size limit."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from contacts_service import metrics
from contacts_service.context import (
    CORRELATION_ID_HEADER,
    Actor,
    clean_correlation_id,
    get_current_actor,
    request_scope,
    set_current_actor,
)
from contacts_service.errors import json_error_response

access_logger = logging.getLogger("contacts_service.access")


class RequestContextMiddleware:
    """Gives each request a correlation id (the caller's X-Correlation-ID or a new one), echoes it
    back, and makes sure no tenant scope survives from one request to the next. Writes one access
    log line per request and counts it in the request metrics (first in MIDDLEWARE: the time covers
    every other middleware, and refusals such as a 413 are counted too)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = clean_correlation_id(request.headers.get(CORRELATION_ID_HEADER))
        request.correlation_id = correlation_id
        started = time.perf_counter()
        with request_scope(correlation_id):
            response = self.get_response(request)
            self._observe(request, response, time.perf_counter() - started)
        response[CORRELATION_ID_HEADER] = correlation_id
        return response

    @staticmethod
    def _observe(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        match = getattr(request, "resolver_match", None)
        # The URL name (e.g. "contact-detail"), not the raw path: a bounded set of label values.
        view = (match.view_name or match.route) if match is not None else "unmatched"
        metrics.request_observe(
            view=view, method=request.method, status=response.status_code, seconds=seconds
        )
        user = getattr(request, "user", None)
        if get_current_actor() is None and user is not None and user.is_authenticated:
            # Views outside the tenant-scoped API (admin, /me/) still name the caller.
            api_key = getattr(user, "api_key", None)
            set_current_actor(
                Actor(type="api_key", id=str(api_key.pk)) if api_key else Actor(type="user", id=str(user.pk))
            )
        level = logging.DEBUG if view == metrics.METRICS_VIEW_NAME else logging.INFO  # scrapes: noise
        access_logger.log(
            level,
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path,
                "route": match.route if match is not None else "",
                "view": view,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


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

"""Per-request (or per-task) context: correlation id, tenant and actor.

Context variables, not thread locals, so a value set for one request never leaks into the next
request served by the same thread: the middleware resets them when the request ends.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contacts_service.models import Tenant

CORRELATION_ID_HEADER = "X-Correlation-ID"
_CORRELATION_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_tenant: ContextVar[Tenant | None] = ContextVar("tenant", default=None)


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, an API key or the system (tasks, commands)."""

    type: str  # "user" | "api_key" | "system"
    id: str
    label: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "label": self.label}


SYSTEM_ACTOR = Actor(type="system", id="system", label="system")


def clean_correlation_id(value: str | None) -> str:
    """Use the caller's id when it is sane, otherwise make a new one."""
    if value and _CORRELATION_ID_RE.match(value):
        return value
    return uuid.uuid4().hex


def get_correlation_id() -> str:
    value = _correlation_id.get()
    if value is None:
        value = uuid.uuid4().hex
        _correlation_id.set(value)
    return value


def set_correlation_id(value: str) -> None:
    _correlation_id.set(value)


def get_current_tenant() -> Tenant | None:
    return _tenant.get()


def set_current_tenant(tenant: Tenant | None) -> None:
    _tenant.set(tenant)


@contextlib.contextmanager
def tenant_context(tenant: Tenant, *, correlation_id: str | None = None) -> Iterator[Tenant]:
    """Enter a tenant explicitly (tasks, commands, tests); restores the previous one on exit."""
    tenant_token = _tenant.set(tenant)
    cid_token = _correlation_id.set(correlation_id) if correlation_id else None
    try:
        yield tenant
    finally:
        _tenant.reset(tenant_token)
        if cid_token is not None:
            _correlation_id.reset(cid_token)


@contextlib.contextmanager
def request_scope(correlation_id: str) -> Iterator[None]:
    """Fresh context for one request: nothing from a previous request survives it."""
    cid_token = _correlation_id.set(correlation_id)
    tenant_token = _tenant.set(None)
    try:
        yield
    finally:
        _tenant.reset(tenant_token)
        _correlation_id.reset(cid_token)


class RequestContextLogFilter(logging.Filter):
    """Adds correlation_id and tenant_id to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = _correlation_id.get() or "-"
        tenant = _tenant.get()
        record.tenant_id = str(tenant.pk) if tenant is not None else "-"
        return True

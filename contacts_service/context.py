"""Per-request (or per-task) context: correlation id, tenant and actor.

Context variables, not thread locals, so a value set for one request never leaks into the next
request served by the same thread: the middleware resets them when the request ends, and the Celery
signal handlers (contacts_service.celery) when a task ends.

The tenant in scope (`get_current_tenant`) decides what tenant-owned queries may read; the log-only
values (`actor`, and the tenant id a task was sent for) never scope a query: they only label log lines.
"""

from __future__ import annotations

import contextlib
import logging
import re
import uuid
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from contacts_service.models import Tenant

CORRELATION_ID_HEADER = "X-Correlation-ID"
_CORRELATION_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_tenant: ContextVar[Tenant | None] = ContextVar("tenant", default=None)
# "type:id" of who the request or task acts for (never a name or an email: logs hold no personal data).
_actor: ContextVar[str | None] = ContextVar("actor", default=None)
# The tenant a task's message was sent for: labels the task's log lines before (and outside) the
# task's own tenant_context, without scoping any query.
_log_tenant_id: ContextVar[str | None] = ContextVar("log_tenant_id", default=None)


@dataclass(frozen=True)
class Actor:
    """Who did something: a user, an API key or the system (tasks, commands)."""

    type: str  # "user" | "api_key" | "system"
    id: str
    label: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "id": self.id, "label": self.label}

    @property
    def log_label(self) -> str:
        return f"{self.type}:{self.id}"


SYSTEM_ACTOR = Actor(type="system", id="system", label="system")


def clean_correlation_id(value: str | None) -> str:
    """Use the caller's id when it is sane, otherwise make a new one."""
    if value and _CORRELATION_ID_RE.fullmatch(value):
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


def set_current_actor(actor: Actor | None) -> None:
    _actor.set(actor.log_label if actor is not None else None)


def get_current_actor() -> str | None:
    """The "type:id" label of who the current request or task acts for."""
    return _actor.get()


def get_log_context() -> dict[str, str | None]:
    """What the current request or task would hand to work it starts (Celery message headers):
    the correlation id only when one was set (a beat or worker context without one must not invent
    a process-wide id), the tenant id and the actor label."""
    tenant = _tenant.get()
    return {
        "correlation_id": _correlation_id.get(),
        "tenant_id": str(tenant.pk) if tenant is not None else _log_tenant_id.get(),
        "actor": _actor.get(),
    }


@dataclass(frozen=True)
class _ScopeTokens:
    correlation_id: Token
    tenant: Token
    actor: Token
    log_tenant_id: Token


def task_scope_enter(*, correlation_id: str, tenant_id: str | None, actor: str | None) -> _ScopeTokens:
    """A task's context (signals, not a `with` block: Celery's task_prerun opens it, task_postrun
    closes it). The tenant of the previous task never survives: no tenant is in scope until the task
    enters its own with tenant_context()."""
    return _ScopeTokens(
        correlation_id=_correlation_id.set(correlation_id),
        tenant=_tenant.set(None),
        actor=_actor.set(actor),
        log_tenant_id=_log_tenant_id.set(tenant_id),
    )


def task_scope_exit(tokens: _ScopeTokens) -> None:
    _log_tenant_id.reset(tokens.log_tenant_id)
    _actor.reset(tokens.actor)
    _tenant.reset(tokens.tenant)
    _correlation_id.reset(tokens.correlation_id)


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
    actor_token = _actor.set(None)
    log_tenant_token = _log_tenant_id.set(None)
    try:
        yield
    finally:
        _log_tenant_id.reset(log_tenant_token)
        _actor.reset(actor_token)
        _tenant.reset(tenant_token)
        _correlation_id.reset(cid_token)


class PlainLogFormatter(logging.Formatter):
    """The plain (development) format, one line per record, tracebacks aside: CR and LF inside a
    message are shown escaped, so text a client chose (a decoded path in Django's "Not Found: ..."
    line) cannot start a line that reads as a record of its own. JSON lines escape them anyway."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return super().formatMessage(record).replace("\r", "\\r").replace("\n", "\\n")


class RequestContextLogFilter(logging.Filter):
    """Adds correlation_id, tenant_id and actor to every log record ("-" when there is none). A
    record that already carries one (`extra=`, e.g. the relay's line for one event) keeps it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = _correlation_id.get() or "-"
        if getattr(record, "tenant_id", None) is None:
            tenant = _tenant.get()
            record.tenant_id = str(tenant.pk) if tenant is not None else (_log_tenant_id.get() or "-")
        if getattr(record, "actor", None) is None:
            record.actor = _actor.get() or "-"
        return True

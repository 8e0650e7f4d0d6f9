"""The base of every tenant-scoped API view: authentication -> tenant -> role permission.

Subclasses say which permission each action needs (`permission_map`) and how to build their
queryset for a tenant (`get_tenant_queryset`). They may not override `get_queryset`: the scoping
lives here so no view can forget it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import ClassVar

from django.db.models import QuerySet
from guardian.shortcuts import get_user_perms
from rest_framework import exceptions, permissions, viewsets
from rest_framework.views import APIView

from contacts_service.auth import TenantAccess, resolve_tenant_access
from contacts_service.context import Actor, set_current_actor, set_current_tenant
from contacts_service.errors import ValidationFailed
from contacts_service.models import Tenant


class HasActionPermission(permissions.BasePermission):
    """Grants an action only when the caller's role holds the permission the view maps it to.
    An action missing from the map is denied (fail closed)."""

    message = "Your role does not allow this action."

    def has_permission(self, request, view) -> bool:
        access: TenantAccess | None = getattr(request, "tenant_access", None)
        if access is None:
            return False
        if request.method.upper() not in view._allowed_methods():
            return True  # no handler: dispatch answers 405 Method Not Allowed, nothing runs
        if request.method.upper() == "OPTIONS":
            # DRF's metadata (the endpoint's name, description, parsers, renderers): any member may
            # ask. Its write fields stay out: DRF checks each method under the action "metadata",
            # which no permission map names (the fields are in the OpenAPI schema).
            return True
        # HEAD is a GET without the body (Django answers it with the GET handler): the same permission.
        method = "get" if request.method.upper() == "HEAD" else request.method.lower()
        action = getattr(view, "action", None) or method
        # "action:method" entries let one action (GET and POST on a sub-resource) need two permissions.
        needed = view.permission_map.get(f"{action}:{method}") or view.permission_map.get(action)
        if needed is None:
            return False
        self.message = f"Your role ({access.role}) lacks the permission {needed}."
        if needed in access.permissions:
            return True
        return self._granted_on_object(request, view, action)

    @staticmethod
    def _granted_on_object(request, view, action: str) -> bool:
        """A view may let an object permission (django-guardian) stand in for the role's permission on
        some detail actions: `object_grants = {"action[:method]": "app.codename"}`. The object is
        looked up in the caller's tenant before the action runs; an unknown or malformed id (or
        another tenant's) is no grant: the 403 of the role's missing permission, as for an API key of
        that role and for the actions without object grants (it said 404, then 403 once shared)."""
        grants = getattr(view, "object_grants", {})
        codename = grants.get(f"{action}:{request.method.lower()}") or grants.get(action)
        user = request.user
        if codename is None or not _is_user(user):
            return False  # API keys are not users: they only ever hold their role
        lookup = view.kwargs.get(view.lookup_url_kwarg or view.lookup_field)
        try:
            obj = view.get_queryset().filter(pk=uuid.UUID(str(lookup))).first()
        except ValueError:
            return False
        return obj is not None and holds_object_grant(user, obj, codename)


def _is_user(user) -> bool:
    return bool(getattr(user, "pk", None)) and hasattr(user, "has_perm")


def holds_object_grant(user, obj, codename: str) -> bool:
    """Whether this user was granted `app.codename` on this object (django-guardian). Only grants made
    to the user count: not a superuser flag, not a group (roles are per tenant); never an API key."""
    return _is_user(user) and codename.split(".", 1)[1] in get_user_perms(user, obj)


def parse_id(value) -> uuid.UUID:
    """A UUID from a URL; anything else is a 404 like an id that does not exist."""
    try:
        return uuid.UUID(str(value))
    except ValueError as exc:
        raise exceptions.NotFound("Not found: the id is not a valid UUID.") from exc


class TenantScopedMixin:
    """Resolves the tenant in `initial()`, before permissions and before any query."""

    permission_classes: ClassVar = [permissions.IsAuthenticated, HasActionPermission]
    permission_map: ClassVar[dict[str, str]] = {}
    # Actions that take no body (POST .../erase/, .../start/): a body with fields is a 400 naming
    # them, as an unknown field anywhere else is (`{"dry_run": true}` erased the contact for good).
    bodyless_actions: ClassVar[frozenset[str]] = frozenset()

    def initial(self, request, *args, **kwargs):
        self.perform_authentication(request)
        if request.user and request.user.is_authenticated:
            request.tenant_access = resolve_tenant_access(request)
            set_current_tenant(request.tenant_access.tenant)
            set_current_actor(request.tenant_access.actor)
        super().initial(request, *args, **kwargs)
        if getattr(self, "action", None) in self.bodyless_actions:
            _refuse_body(request.data)

    @property
    def tenant(self) -> Tenant:
        return self.request.tenant_access.tenant

    @property
    def actor(self) -> Actor:
        return self.request.tenant_access.actor


def _refuse_body(data) -> None:
    if not data:  # no body, {} or an empty form
        return
    if isinstance(data, Mapping):
        message = "This action takes no body: unknown field."
        names = sorted(data, key=str)
        errors = [{"field": str(name), "code": "unknown", "message": message} for name in names]
    else:
        errors = [{"field": None, "code": "invalid", "message": "This action takes no body."}]
    raise ValidationFailed(errors)


class TenantAPIView(TenantScopedMixin, APIView):
    """A non-model endpoint scoped to the caller's tenant."""


class TenantViewSet(TenantScopedMixin, viewsets.GenericViewSet):
    """Model endpoints of one tenant. Another tenant's id is a 404, like an id that never existed."""

    lookup_value_regex = "[^/]+"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise TypeError(f"{cls.__name__} must not override get_queryset; define get_tenant_queryset")

    def get_tenant_queryset(self, tenant: Tenant) -> QuerySet:
        raise NotImplementedError

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        """The list filters narrow a list: a detail URL (/things/{id}/ and its actions) names its row by
        id, and a list's query string a UI keeps on it (`?status=active`) does not make that row a 404."""
        if self.detail:
            return queryset
        return super().filter_queryset(queryset)

    def get_queryset(self) -> QuerySet:
        access = getattr(self.request, "tenant_access", None)
        if access is None:  # schema generation
            return self.queryset.none() if self.queryset is not None else QuerySet().none()
        return self.get_tenant_queryset(access.tenant).filter(tenant_id=access.tenant.pk)

    def get_object(self):
        parse_id(self.kwargs.get(self.lookup_url_kwarg or self.lookup_field))
        return super().get_object()

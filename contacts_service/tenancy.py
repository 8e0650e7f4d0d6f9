"""Fail-closed tenancy for tenant-owned models.

`Model.objects.for_tenant(tenant)` is how reads start. A plain `Model.objects.all()` only works
inside a tenant context (a request the base viewset scoped, or `tenant_context(...)`), and is
then filtered to that tenant; with no tenant in scope it raises instead of returning every
tenant's rows. `Model.objects.unscoped()` is the loud escape hatch for the admin, migrations and
cross-tenant maintenance jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models

from contacts_service.context import get_current_tenant

if TYPE_CHECKING:
    from contacts_service.models import Tenant


class TenantScopeError(RuntimeError):
    """A tenant-owned table was queried with no tenant in scope."""


class TenantQuerySet(models.QuerySet):
    pass


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    """Default manager of every tenant-owned model: refuses to run without a tenant."""

    def get_queryset(self) -> TenantQuerySet:
        tenant = get_current_tenant()
        related_to = getattr(self, "instance", None)  # set on related managers (contact.identifiers)
        if tenant is None and getattr(related_to, "tenant_id", None) is not None:
            # Rows related to an already-loaded object belong to that object's tenant.
            return super().get_queryset().filter(tenant_id=related_to.tenant_id)
        if tenant is None:
            raise TenantScopeError(
                f"{self.model.__name__} queried without a tenant; use for_tenant(), "
                "tenant_context() or unscoped()"
            )
        return super().get_queryset().filter(tenant_id=tenant.pk)

    def for_tenant(self, tenant: Tenant) -> TenantQuerySet:
        if tenant is None or tenant.pk is None:
            raise TenantScopeError(f"{self.model.__name__}.for_tenant() needs a saved tenant")
        return super().get_queryset().filter(tenant_id=tenant.pk)

    def none(self) -> TenantQuerySet:
        # An empty queryset cannot leak anything; schema generation and tooling ask for one.
        return super().get_queryset().none()

    def unscoped(self) -> TenantQuerySet:
        return super().get_queryset()


class TenantOwnedModel(models.Model):
    """Base for every row that belongs to one tenant."""

    tenant = models.ForeignKey("contacts_service.Tenant", on_delete=models.CASCADE, related_name="+")

    objects = TenantManager()
    # Django's internals (related lookups, cascades) use the base manager; it must not raise.
    unscoped_objects = models.Manager()

    class Meta:
        abstract = True
        base_manager_name = "unscoped_objects"

"""Celery tasks of contacts: duplicate candidates. Idempotent, safe to retry."""

from celery import shared_task

from contacts_service.context import tenant_context
from contacts_service.models import Tenant


@shared_task(acks_late=True)
def duplicates_recompute_task(tenant_id: str) -> int:
    """Recompute every candidate pair of one tenant (after its matching rules changed, on request)."""
    from contacts.services.duplicates import duplicates_recompute

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return 0
    with tenant_context(tenant):
        return duplicates_recompute(tenant=tenant)


@shared_task(acks_late=True)
def duplicates_check_task(tenant_id: str, contact_ids: list[str]) -> int:
    """Recompute the candidate pairs involving these contacts (created, changed, merged, imported)."""
    from contacts.services.duplicates import duplicates_recompute

    tenant = Tenant.objects.filter(pk=tenant_id).first()
    if tenant is None:
        return 0
    with tenant_context(tenant):
        return duplicates_recompute(tenant=tenant, contact_ids=contact_ids)


@shared_task(acks_late=True)
def duplicates_recompute_all() -> int:
    """Beat: recompute every active tenant's candidates (catches what no change triggered)."""
    tenant_ids = list(Tenant.objects.filter(is_active=True).values_list("pk", flat=True))
    for tenant_id in tenant_ids:
        duplicates_recompute_task.delay(str(tenant_id))
    return len(tenant_ids)

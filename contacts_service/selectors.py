"""Reads of the tenancy kernel."""

from django.db.models import QuerySet

from contacts_service.models import ApiKey, Tenant


def apikey_list(*, tenant: Tenant) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(tenant=tenant).order_by("-created_at")

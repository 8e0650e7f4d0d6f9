"""Reads of tags, always for one tenant."""

from django.db.models import Count, Q, QuerySet

from contacts_service.models import Tenant
from tags.models import Tag


def tag_list(*, tenant: Tenant) -> QuerySet[Tag]:
    """Tags with the number of live contacts carrying each."""
    return (
        Tag.objects.for_tenant(tenant)
        .annotate(contact_count=Count("assignments", filter=Q(assignments__contact__deleted_at__isnull=True)))
        .order_by("name")
    )

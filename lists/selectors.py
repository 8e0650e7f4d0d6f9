"""Reads of lists, always for one tenant."""

import uuid

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery

from contacts.models import Contact
from contacts.selectors import contact_list
from contacts_service.models import Membership, Tenant
from lists.models import ContactList, ListMembership


def list_list(*, tenant: Tenant) -> QuerySet[ContactList]:
    """Lists with their number of live members."""
    return (
        ContactList.objects.for_tenant(tenant)
        .annotate(member_count=Count("memberships", filter=Q(memberships__contact__deleted_at__isnull=True)))
        .order_by("name")
    )


def list_members(*, tenant: Tenant, list_id: uuid.UUID) -> QuerySet[Contact]:
    """Live members of a list with the time they were added, newest first."""
    added_at = ListMembership.objects.for_tenant(tenant).filter(
        contact_list_id=list_id, contact_id=OuterRef("pk")
    )
    return (
        contact_list(tenant=tenant)
        .filter(list_memberships__contact_list_id=list_id)
        .annotate(added_at=Subquery(added_at.values("added_at")[:1]))
        .order_by("-added_at", "-id")
    )


def segment_preview(*, tenant: Tenant, rules) -> QuerySet[Contact]:
    """Live contacts matching rules, newest first (raises a 400 naming invalid rules)."""
    from lists.segments import compile_rules

    return (
        contact_list(tenant=tenant)
        .filter(compile_rules(tenant=tenant, rules=rules))
        .order_by("-created_at", "-id")
    )


def list_shares(*, tenant: Tenant, list_id: uuid.UUID) -> QuerySet[Membership]:
    """Members of the tenant a list is shared with (object permission manage_list), by email."""
    return (
        Membership.objects.select_related("user")
        .filter(tenant=tenant, user__contactlistuserpermission__content_object_id=list_id)
        .distinct()
        .order_by("user__email", "user_id")
    )

"""Reads of lists, always for one tenant."""

import uuid

from django.db.models import Count, F, Q, QuerySet

from contacts.models import Contact
from contacts.selectors import contact_list
from contacts_service.models import Membership, Tenant
from lists.models import ContactList

MANAGE_LIST_CODENAME = "manage_list"  # lists.services.MANAGE_LIST without its app label


def list_list(*, tenant: Tenant) -> QuerySet[ContactList]:
    """Lists with their number of live members."""
    return (
        ContactList.objects.for_tenant(tenant)
        .annotate(member_count=Count("memberships", filter=Q(memberships__contact__deleted_at__isnull=True)))
        .order_by("name")
    )


def list_members(*, tenant: Tenant, list_id: uuid.UUID) -> QuerySet[Contact]:
    """Live members of a list with the time they were added, newest first. added_at comes from the
    membership row of the join itself (a subquery per contact made PostgreSQL compute it for every
    member before sorting: seconds at 250,000 members), so the scan walks the membership index
    (tenant, list, -added_at) and stops at the page."""
    return (
        contact_list(tenant=tenant)
        .filter(list_memberships__tenant=tenant, list_memberships__contact_list_id=list_id)
        .annotate(added_at=F("list_memberships__added_at"))
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
        .filter(  # one grant row: this list's manage_list (an operator may give others in the admin)
            tenant=tenant,
            user__contactlistuserpermission__content_object_id=list_id,
            user__contactlistuserpermission__permission__codename=MANAGE_LIST_CODENAME,
        )
        .distinct()
        .order_by("user__email", "user_id")
    )

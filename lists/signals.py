"""A member removed from a tenant (admin, its inline, a cascade) loses the lists of that tenant shared
with them: added back later, with any role, they would otherwise manage those lists again though
nobody shared them anew."""

from __future__ import annotations

from django.db.models.signals import post_delete
from django.dispatch import receiver

from contacts_service.models import Membership
from lists.models import ContactListUserPermission


@receiver(post_delete, sender=Membership, dispatch_uid="lists.grants_of_a_removed_member")
def grants_of_a_removed_member(sender, instance: Membership, **kwargs) -> None:
    ContactListUserPermission.objects.filter(
        user_id=instance.user_id, content_object__tenant_id=instance.tenant_id
    ).delete()

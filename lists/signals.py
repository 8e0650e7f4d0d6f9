"""A member removed from a tenant (admin, its inline, a cascade, or a membership edited to name
another tenant or user) loses the lists of that tenant shared with them: added back later, with any
role, they would otherwise manage those lists again though nobody shared them anew."""

from __future__ import annotations

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from contacts_service.models import Membership
from lists.models import ContactListUserPermission


@receiver(post_delete, sender=Membership, dispatch_uid="lists.grants_of_a_removed_member")
def grants_of_a_removed_member(sender, instance: Membership, **kwargs) -> None:
    ContactListUserPermission.objects.filter(
        user_id=instance.user_id, content_object__tenant_id=instance.tenant_id
    ).delete()


@receiver(pre_save, sender=Membership, dispatch_uid="lists.membership_before_save")
def membership_before_save(sender, instance: Membership, **kwargs) -> None:
    instance._was = (
        Membership.objects.filter(pk=instance.pk).values_list("tenant_id", "user_id").first()
        if not instance._state.adding
        else None
    )


@receiver(post_save, sender=Membership, dispatch_uid="lists.grants_of_a_moved_member")
def grants_of_a_moved_member(sender, instance: Membership, created: bool, **kwargs) -> None:
    was = getattr(instance, "_was", None)
    if was and was != (instance.tenant_id, instance.user_id):
        tenant_id, user_id = was
        ContactListUserPermission.objects.filter(
            user_id=user_id, content_object__tenant_id=tenant_id
        ).delete()

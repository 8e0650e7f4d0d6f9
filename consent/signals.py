"""Every new tenant starts with the default consent purposes."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from contacts_service.models import Tenant


@receiver(post_save, sender=Tenant, dispatch_uid="consent_default_purposes")
def create_default_purposes(sender, instance: Tenant, created: bool, raw: bool = False, **kwargs) -> None:
    if created and not raw:
        from consent.services import purposes_create_defaults

        purposes_create_defaults(tenant=instance)

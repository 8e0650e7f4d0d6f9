from django.apps import AppConfig


class ContactsServiceConfig(AppConfig):
    """The kernel: tenants, memberships, roles, API keys, auth and the shared API plumbing."""

    name = "contacts_service"
    verbose_name = "Tenancy"
    default_auto_field = "django.db.models.BigAutoField"

from django.apps import AppConfig


class ContactsConfig(AppConfig):
    """Contacts, their identifiers, custom attributes and change history."""

    name = "contacts"
    default_auto_field = "django.db.models.BigAutoField"

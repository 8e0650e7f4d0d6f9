from django.apps import AppConfig


class TagsConfig(AppConfig):
    """Per-tenant tags and their assignment to contacts."""

    name = "tags"
    default_auto_field = "django.db.models.BigAutoField"

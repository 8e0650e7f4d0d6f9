from django.apps import AppConfig


class ListsConfig(AppConfig):
    """Contact lists (static and dynamic segments) and their membership."""

    name = "lists"
    default_auto_field = "django.db.models.BigAutoField"

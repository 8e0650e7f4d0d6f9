from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Timeline and transactional outbox of every change."""

    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

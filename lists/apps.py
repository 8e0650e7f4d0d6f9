from django.apps import AppConfig


class ListsConfig(AppConfig):
    """Contact lists (static and dynamic segments) and their membership."""

    name = "lists"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contacts.gdpr import register_erasure_step
        from lists import signals  # noqa: F401  (grants of a removed member)
        from lists.gdpr import segment_rules_erase, segments_holding_lock

        register_erasure_step(segment_rules_erase, hold=segments_holding_lock)

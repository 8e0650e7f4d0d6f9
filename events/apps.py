from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Timeline and transactional outbox of every change."""

    name = "events"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contacts.gdpr import register_personal_data
        from events.selectors import activities_for_contact

        # GDPR export and erase of the activities other services reported.
        register_personal_data(
            "activities",
            model="events.Activity",
            export=lambda tenant, contact_id: list(
                activities_for_contact(tenant=tenant, contact_id=contact_id).values(
                    "id", "activity_type", "occurred_at", "title", "data", "idempotency_key", "source",
                    "actor", "recorded_at", "event_id",
                )
            ),
        )  # fmt: skip

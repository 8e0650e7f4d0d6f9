from django.apps import AppConfig


class ConsentConfig(AppConfig):
    name = "consent"
    verbose_name = "Consent"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from consent import signals  # noqa: F401  (default purposes for new tenants)
        from consent.selectors import consent_current, consent_ledger
        from contacts.gdpr import register_personal_data

        # GDPR export and erase: the consent sections of the document, and what erase removes.
        register_personal_data(
            "consent.current",
            model="consent.ConsentState",
            export=lambda tenant, contact_id: list(
                consent_current(tenant=tenant, contact_id=contact_id).values(
                    "channel", "purpose", "status", "legal_basis", "source", "confirmed_at", "updated_at",
                    "record_id",
                )
            ),
        )  # fmt: skip
        register_personal_data(
            "consent.ledger",
            model="consent.ConsentRecord",
            export=lambda tenant, contact_id: list(
                consent_ledger(tenant=tenant, contact_id=contact_id).values(
                    "id", "channel", "purpose", "status", "legal_basis", "source", "proof", "ip_address",
                    "user_agent", "request_ip", "actor", "correlation_id", "recorded_at", "applied",
                    "confirms_id", "event_id",
                )
            ),
        )  # fmt: skip

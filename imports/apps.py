from django.apps import AppConfig


class ImportsConfig(AppConfig):
    """CSV import jobs (and, later, export jobs) processed by Celery in 500-row batches."""

    name = "imports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from contacts.gdpr import register_erasure_step
        from imports.gdpr import (
            export_files_erase,
            export_filters_erase,
            import_headers_hold,
            import_traces_erase,
        )

        register_erasure_step(import_traces_erase, hold=import_headers_hold)
        register_erasure_step(export_files_erase)
        register_erasure_step(export_filters_erase)

import os
import sys

from django.apps import AppConfig
from django.conf import settings


class ContactsServiceConfig(AppConfig):
    """The kernel: tenants, memberships, roles, API keys, auth and the shared API plumbing."""

    name = "contacts_service"
    verbose_name = "Tenancy"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # The embedded default has no beat process: the server runs the schedule itself (in the
        # process that serves, not in the autoreloader's watcher).
        serving = "runserver" in sys.argv[1:2] and (
            os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv
        )
        if serving and settings.EMBEDDED_PERIODIC:
            from contacts_service import periodic

            periodic.start()

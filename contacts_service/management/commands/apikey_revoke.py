from django.core.management.base import BaseCommand, CommandError

from contacts_service import services
from contacts_service.errors import NotFound, ValidationFailed


class Command(BaseCommand):
    help = "Revoke an API key by its visible prefix (csk_xxxx) or id."

    def add_arguments(self, parser):
        parser.add_argument("key", help="Prefix (csk_xxxxxxxxxx) or id")

    def handle(self, *args, key: str, **options):
        try:
            api_key = services.apikey_revoke(tenant=None, prefix_or_id=key)
        except NotFound as exc:
            raise CommandError(str(exc)) from exc
        except ValidationFailed as exc:  # a NUL in the argument
            raise CommandError("; ".join(e["message"] for e in exc.errors)) from exc
        self.stdout.write(
            f"revoked {api_key.display_prefix} ({api_key.name}) at {api_key.revoked_at.isoformat()}"
        )

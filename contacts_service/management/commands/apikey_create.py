from django.core.management.base import BaseCommand, CommandError

from contacts_service import services
from contacts_service.errors import ValidationFailed
from contacts_service.models import Tenant
from contacts_service.roles import Role


class Command(BaseCommand):
    help = "Issue an API key for a tenant and role; prints it once."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True, help="Tenant id")
        parser.add_argument("--role", required=True, choices=Role.values)
        parser.add_argument("--name", required=True)

    def handle(self, *args, tenant: str, role: str, name: str, **options):
        found = Tenant.objects.filter(pk=tenant).first() if _is_uuid(tenant) else None
        if found is None:
            raise CommandError(f"No tenant with id {tenant}")
        try:
            issued = services.apikey_create(tenant=found, name=name, role=role)
        except ValidationFailed as exc:
            raise CommandError("; ".join(e["message"] for e in exc.errors)) from exc
        self.stdout.write(f"api_key: {issued.key}")
        self.stdout.write(f"prefix: {issued.api_key.display_prefix} role: {role} tenant: {found.pk}")


def _is_uuid(value: str) -> bool:
    import uuid

    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True

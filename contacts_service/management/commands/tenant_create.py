from django.core.management.base import BaseCommand, CommandError

from contacts_service import services
from contacts_service.errors import ValidationFailed
from contacts_service.models import Plan, plan_names


class Command(BaseCommand):
    help = (
        "Create a tenant with its owner (created or reused by email); "
        "prints the tenant id and an owner API key."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--owner", required=True, help="Owner's email")
        parser.add_argument("--password", help="Give the owner a password (for the admin / browsable API)")
        parser.add_argument(
            "--plan",
            default=Plan.STANDARD,
            choices=plan_names(),  # the built-in plans and those RATE_LIMIT_PLANS adds
            help="Plan: picks the rate limits",
        )

    def handle(self, *args, name: str, owner: str, password: str | None, plan: str, **options):
        try:
            created = services.tenant_create(name=name, owner_email=owner, owner_password=password, plan=plan)
        except ValidationFailed as exc:
            raise CommandError("; ".join(e["message"] for e in exc.errors)) from exc
        self.stdout.write(f"tenant_id: {created.tenant.pk}")
        self.stdout.write(f"plan: {created.tenant.plan}")
        self.stdout.write(f"owner: {created.owner.email}")
        self.stdout.write(f"api_key: {created.issued.key}")
        self.stdout.write("The key is shown only now; store it safely.")

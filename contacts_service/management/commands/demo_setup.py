import itertools

from django.core.management.base import BaseCommand

from contacts.models import Contact
from contacts_service import services
from contacts_service.models import Tenant
from contacts_service.roles import Role

DEMO_TENANT = "Demo"
DEMO_OWNER = "owner@demo.test"


class Command(BaseCommand):
    help = "Make sure the demo tenant and owner exist, issue a fresh demo API key and print how to use it."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--password", default="demo-password-123")

    def handle(self, *args, url: str, password: str, **options):
        tenant = Tenant.objects.filter(name=DEMO_TENANT).order_by("created_at").first()
        if tenant is None:
            created = services.tenant_create(
                name=DEMO_TENANT, owner_email=DEMO_OWNER, owner_password=password
            )
            tenant, key = created.tenant, created.issued.key
        else:
            key = services.apikey_create(tenant=tenant, name="demo", role=Role.OWNER).key
        # An address the tenant has no contact with yet: the example works on every run, not only the first.
        taken = set(
            Contact.objects.for_tenant(tenant).filter(email__startswith="ada").values_list("email", flat=True)
        )
        email = next(
            e for n in itertools.count(1) if (e := f"ada{'' if n == 1 else n}@example.com") not in taken
        )
        owner = services.user_get_or_create(email=DEMO_OWNER, password=password)
        owner.is_staff = owner.is_superuser = True
        owner.save(update_fields=["is_staff", "is_superuser"])
        self.stdout.write(
            "\n".join(
                [
                    "",
                    f"Contacts service running at {url}/",
                    f"  API docs:  {url}/api/docs/",
                    f"  Admin:     {url}/admin/  (user {DEMO_OWNER}, password {password})",
                    f"  Tenant:    {tenant.pk}",
                    f"  API key:   {key}",
                    "",
                    "Try:",
                    f"  curl -s -H 'Authorization: Api-Key {key}' -H 'Content-Type: application/json' \\",
                    f'       -d \'{{"email": "{email}", "first_name": "Ada"}}\' \\',
                    f"       {url}/api/v1/contacts/",
                    f"  curl -s -H 'Authorization: Api-Key {key}' {url}/api/v1/contacts/",
                    "",
                ]
            )
        )

"""factory_boy factories; contacts made here bypass services (no history/outbox rows)."""

import factory

from contacts.models import AttributeDefinition, Contact
from contacts_service.models import Membership, Tenant, User
from contacts_service.roles import Role


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Tenant {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    username = factory.Sequence(lambda n: f"user{n}@example.test")
    email = factory.SelfAttribute("username")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    tenant = factory.SubFactory(TenantFactory)
    user = factory.SubFactory(UserFactory)
    role = Role.OWNER


class TenantOwnedFactory(factory.django.DjangoModelFactory):
    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        obj = model_class(*args, **kwargs)
        obj.save(force_insert=True)
        return obj


class ContactFactory(TenantOwnedFactory):
    class Meta:
        model = Contact

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"person{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    display_name = factory.LazyAttribute(lambda o: f"{o.first_name} {o.last_name}")
    company = "Acme"
    country = "FR"
    city = "Paris"


class AttributeDefinitionFactory(TenantOwnedFactory):
    class Meta:
        model = AttributeDefinition

    tenant = factory.SubFactory(TenantFactory)
    key = factory.Sequence(lambda n: f"attr_{n}")
    label = factory.LazyAttribute(lambda o: o.key.title())
    type = "string"

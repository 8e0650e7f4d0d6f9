"""The shared tenant/role/validation contract, configured for each contacts endpoint."""

import itertools

from contacts.models import AttributeDefinition, Contact, ContactChange, ContactIdentifier
from contacts_service.roles import Perm
from tests.api_base import TenantAPITestBase
from tests.factories import AttributeDefinitionFactory, ContactFactory

_seq = itertools.count()


class TestContactsEndpoint(TenantAPITestBase):
    list_url_name = "contact-list"
    detail_url_name = "contact-detail"
    permissions = {
        "list": Perm.CONTACTS_VIEW,
        "retrieve": Perm.CONTACTS_VIEW,
        "create": Perm.CONTACTS_CREATE,
        "partial_update": Perm.CONTACTS_UPDATE,
        "destroy": Perm.CONTACTS_DELETE,
    }
    invalid_data = [
        ({"email": "not-an-email"}, "email"),
        ({"first_name": "No identity"}, "email"),
        ({"email": "a@example.com", "phone": "12"}, "phone"),
        ({"email": "a@example.com", "phone": "0612345678"}, "phone"),  # national number, no country
        ({"email": "a@example.com", "country": "France"}, "country"),
        ({"email": "a@example.com", "status": "zombie"}, "status"),
        ({"email": "a@example.com", "attributes": {"unknown_key": 1}}, "attributes.unknown_key"),
        ({"email": "a@example.com", "attributes": "plan=gold"}, "attributes"),
        ({"email": "a@example.com", "bogus": 1}, "bogus"),
        ({"email": "a@example.com", "id": "00000000-0000-0000-0000-000000000000"}, "id"),
        ({"email": "a@example.com", "first_name": "x" * 151}, "first_name"),
        ({"email": "a@example.com", "first_name": "nul\x00byte"}, "first_name"),
        ({"email": ["a@example.com"]}, "email"),
        # a JSON value of another type than documented (DRF would take 0 as "0"); found by schemathesis
        ({"email": "a@example.com", "external_id": 0}, "external_id"),
        ({"email": "a@example.com", "allow_erased": 1}, "allow_erased"),
    ]

    def make_object(self, tenant):
        return ContactFactory(tenant=tenant)

    def model_rows(self, tenant):
        return [
            self.rows(Contact.objects.for_tenant(tenant)),
            ContactChange.objects.for_tenant(tenant).count(),
        ]

    def create_payload(self):
        return {"email": f"new{next(_seq)}@example.com", "first_name": "New"}

    def update_payload(self):
        return {"city": f"Lyon {next(_seq)}"}


class TestIdentifiersEndpoint(TenantAPITestBase):
    list_url_name = "contact-identifier-list"
    detail_url_name = "contact-identifier-detail"
    permissions = {
        "list": Perm.CONTACTS_VIEW,
        "create": Perm.CONTACTS_UPDATE,
        "partial_update": Perm.CONTACTS_UPDATE,
        "destroy": Perm.CONTACTS_UPDATE,
    }
    invalid_data = [
        ({"channel": "fax", "value": "123"}, "channel"),
        ({"channel": "whatsapp", "value": "not a number"}, "value"),
        ({"channel": "email", "value": "nope"}, "value"),
        ({"channel": "push"}, "value"),
        ({"channel": "push", "value": "tok", "primary": True}, "primary"),
    ]

    def make_object(self, tenant):
        contact = ContactFactory(tenant=tenant)
        identifier = ContactIdentifier(
            tenant=tenant, contact=contact, channel="push", value=f"token-{next(_seq)}"
        )
        identifier.save(force_insert=True)
        return identifier

    def list_kwargs(self, obj):
        return {"contact_pk": obj.contact_id}

    def model_rows(self, tenant):
        return [
            self.rows(ContactIdentifier.objects.for_tenant(tenant)),
            self.rows(Contact.objects.for_tenant(tenant)),
        ]

    def create_payload(self):
        return {"channel": "push", "value": f"push-token-{next(_seq)}"}

    def update_payload(self):
        return {"verified": True}


class TestAttributeDefinitionsEndpoint(TenantAPITestBase):
    list_url_name = "attribute-definition-list"
    detail_url_name = "attribute-definition-detail"
    permissions = {
        "list": Perm.CONTACTS_VIEW,
        "retrieve": Perm.CONTACTS_VIEW,
        "create": Perm.ATTRIBUTES_MANAGE,
        "partial_update": Perm.ATTRIBUTES_MANAGE,
        "destroy": Perm.ATTRIBUTES_MANAGE,
    }
    invalid_data = [
        ({"key": "Bad Key", "label": "Bad", "type": "string"}, "key"),
        ({"key": "plan", "label": "Plan", "type": "colour"}, "type"),
        ({"key": "plan", "label": "Plan", "type": "choice"}, "choices"),
        ({"key": "plan", "label": "Plan", "type": "choice", "choices": ["a", "a"]}, "choices.1"),
        ({"key": "plan", "label": "Plan", "type": "number", "choices": ["a"]}, "choices"),
        ({"label": "Plan", "type": "string"}, "key"),
    ]

    def make_object(self, tenant):
        return AttributeDefinitionFactory(tenant=tenant)

    def model_rows(self, tenant):
        return self.rows(AttributeDefinition.objects.for_tenant(tenant))

    def create_payload(self):
        return {"key": f"score_{next(_seq)}", "label": "Score", "type": "number"}

    def update_payload(self):
        return {"label": f"Renamed {next(_seq)}"}

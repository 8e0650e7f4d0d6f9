"""Fail-closed tenancy: no tenant in scope means an error, never every tenant's rows."""

import pytest
from django.db.models import QuerySet

from contacts.models import Contact
from contacts_service.context import tenant_context
from contacts_service.tenancy import TenantScopeError
from contacts_service.viewsets import TenantViewSet
from tests.factories import ContactFactory


@pytest.mark.django_db
def test_querying_a_tenant_owned_model_without_a_tenant_raises(tenant):
    ContactFactory(tenant=tenant)
    with pytest.raises(TenantScopeError):
        list(Contact.objects.all())
    with pytest.raises(TenantScopeError):
        Contact.objects.filter(email__isnull=False).count()
    with pytest.raises(TenantScopeError):
        Contact.objects.for_tenant(None)


@pytest.mark.django_db
def test_inside_a_tenant_context_only_that_tenants_rows_are_seen(tenant, other_tenant):
    mine = ContactFactory(tenant=tenant)
    ContactFactory(tenant=other_tenant)
    with tenant_context(tenant):
        assert list(Contact.objects.all()) == [mine]
    assert Contact.objects.for_tenant(other_tenant).count() == 1
    assert Contact.objects.unscoped().count() == 2
    with pytest.raises(TenantScopeError):
        Contact.objects.count()  # the context ended


@pytest.mark.django_db
def test_related_rows_of_a_loaded_object_stay_in_its_tenant(tenant):
    contact = ContactFactory(tenant=tenant)
    assert list(contact.identifiers.all()) == []


def test_a_viewset_overriding_get_queryset_is_refused_at_import_time():
    with pytest.raises(TypeError, match="get_tenant_queryset"):

        class Leaky(TenantViewSet):
            def get_queryset(self) -> QuerySet:
                return Contact.objects.unscoped()


@pytest.mark.django_db
def test_tenant_scope_does_not_leak_from_one_request_to_the_next(client_for, tenant, other_tenant):
    ContactFactory(tenant=tenant)
    assert client_for(tenant).get("/api/v1/contacts/").json()["count"] == 1
    with pytest.raises(TenantScopeError):
        Contact.objects.count()
    assert client_for(other_tenant).get("/api/v1/contacts/").json()["count"] == 0

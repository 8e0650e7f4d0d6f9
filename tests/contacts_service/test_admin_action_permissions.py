"""The Django admin's actions need a permission beyond the changelist's view permission (Django runs
an action for anyone who may open the changelist unless it declares one); OPTIONS is open to any
member of the tenant (it was a 403 on every endpoint, even for an owner)."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission
from django.urls import reverse

from contacts.models import Contact
from contacts.services import contact_delete
from contacts_service import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.models import ApiKey
from contacts_service.roles import Role
from events.models import OutboxEvent
from tests.factories import ContactFactory, UserFactory


def _operator(client, *codenames: str):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_a_view_only_operator_can_neither_soft_delete_nor_restore_contacts(client, tenant):
    operator = _operator(client, "view_contact")
    live, gone = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    with tenant_context(tenant):
        contact_delete(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=gone.pk)
    url = reverse("admin:contacts_contact_changelist")
    page = operator.get(url)
    assert page.status_code == 200  # may look
    assert b"soft_delete" not in page.content and b"restore" not in page.content  # not offered
    before = OutboxEvent.objects.unscoped().count()
    for action, contact in (("soft_delete", live), ("restore", gone)):
        operator.post(url, {"action": action, ACTION_CHECKBOX_NAME: [str(contact.pk)]})
    assert Contact.objects.unscoped().get(pk=live.pk).deleted_at is None
    assert Contact.objects.unscoped().get(pk=gone.pk).deleted_at is not None
    assert OutboxEvent.objects.unscoped().count() == before


@pytest.mark.django_db
def test_an_operator_with_the_delete_permission_soft_deletes_and_restores(client, tenant):
    operator = _operator(client, "view_contact", "delete_contact")
    live = ContactFactory(tenant=tenant)
    url = reverse("admin:contacts_contact_changelist")
    operator.post(url, {"action": "soft_delete", ACTION_CHECKBOX_NAME: [str(live.pk)]})
    assert Contact.objects.unscoped().get(pk=live.pk).deleted_at is not None
    operator.post(url, {"action": "restore", ACTION_CHECKBOX_NAME: [str(live.pk)]})
    assert Contact.objects.unscoped().get(pk=live.pk).deleted_at is None


@pytest.mark.django_db
def test_revoking_api_keys_needs_the_delete_permission(client, tenant):
    issued = services.apikey_create(tenant=tenant, name="prod", role="owner")
    url = reverse("admin:contacts_service_apikey_changelist")
    viewer = _operator(client, "view_apikey")
    assert viewer.get(url).status_code == 200
    viewer.post(url, {"action": "revoke", ACTION_CHECKBOX_NAME: [str(issued.api_key.pk)]})
    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at is None
    _operator(client, "view_apikey", "delete_apikey").post(
        url, {"action": "revoke", ACTION_CHECKBOX_NAME: [str(issued.api_key.pk)]}
    )
    assert ApiKey.objects.get(pk=issued.api_key.pk).revoked_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize("role", [Role.OWNER, Role.CONTACTS_VIEWER])
@pytest.mark.parametrize(
    "url", ["/api/v1/me/", "/api/v1/contacts/", "/api/v1/matching-rules/", "/api/v1/tags/"]
)
def test_options_answers_any_member_with_the_endpoints_metadata(client_for, tenant, role, url):
    response = client_for(tenant, role).options(url)
    assert response.status_code == 200, response.content
    assert set(response.json()) >= {"name", "renders", "parses"}


@pytest.mark.django_db
def test_options_still_needs_a_member(client, tenant):
    assert client.options("/api/v1/contacts/").status_code == 401

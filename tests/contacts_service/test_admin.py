"""Operators' admin: staff see every tenant, filter by tenant, and act through the services."""

import pytest
from django.urls import reverse

from contacts.models import Contact
from events.models import OutboxEvent
from tests.factories import ContactFactory, UserFactory


@pytest.mark.django_db
def test_admin_lists_contacts_of_every_tenant_and_filters_by_tenant(operator_client, tenant, other_tenant):
    ContactFactory(tenant=tenant, email="acme@example.com")
    ContactFactory(tenant=other_tenant, email="globex@example.com")
    url = reverse("admin:contacts_contact_changelist")
    page = operator_client.get(url).content.decode()
    assert "acme@example.com" in page and "globex@example.com" in page
    filtered = operator_client.get(url, {"tenant__id__exact": str(tenant.pk)}).content.decode()
    assert "acme@example.com" in filtered and "globex@example.com" not in filtered


@pytest.mark.django_db
def test_admin_pages_open_for_each_model(operator_client, tenant):
    contact = ContactFactory(tenant=tenant)
    for name in (
        "contacts_service_tenant",
        "contacts_service_membership",
        "contacts_service_apikey",
        "contacts_attributedefinition",
        "events_outboxevent",
    ):
        assert operator_client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    assert operator_client.get(reverse("admin:contacts_contact_change", args=[contact.pk])).status_code == 200
    assert (
        operator_client.get(reverse("admin:contacts_service_tenant_change", args=[tenant.pk])).status_code
        == 200
    )


@pytest.mark.django_db
def test_admin_shows_an_outbox_event_and_its_json_payload(operator_client, api, tenant):
    """The outbox payload is a `json` column (events.models.JSONTextField): the changelist, its search by
    event id and the read-only change page still open and show the envelope."""
    contact = api.post(reverse("contact-list"), {"email": "outbox@example.com"}, format="json").json()
    event = OutboxEvent.objects.unscoped().get(aggregate_id=contact["id"])
    search = {"q": str(event.event_id)}
    changelist = operator_client.get(reverse("admin:events_outboxevent_changelist"), search)
    assert changelist.status_code == 200 and str(event.aggregate_id) in changelist.content.decode()
    page = operator_client.get(reverse("admin:events_outboxevent_change", args=[event.pk]))
    assert page.status_code == 200
    assert "outbox@example.com" in page.content.decode()


@pytest.mark.django_db
def test_admin_outbox_filters_by_tenant(operator_client, client_for, tenant, other_tenant):
    """docs/operations.md: the admin shows every tenant with a tenant filter; the outbox too."""
    ours = client_for(tenant).post(reverse("contact-list"), {"email": "a@example.com"}, format="json").json()
    theirs = client_for(other_tenant).post(reverse("contact-list"), {"email": "b@example.com"}, format="json")
    changelist = operator_client.get(
        reverse("admin:events_outboxevent_changelist"), {"tenant__id__exact": str(tenant.pk)}
    )
    assert changelist.status_code == 200
    body = changelist.content.decode()
    assert ours["id"] in body and theirs.json()["id"] not in body


@pytest.mark.django_db
def test_admin_soft_delete_action_goes_through_the_service(operator_client, tenant):
    contact = ContactFactory(tenant=tenant)
    response = operator_client.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "soft_delete", "_selected_action": [str(contact.pk)]},
    )
    assert response.status_code == 302
    assert Contact.objects.unscoped().get(pk=contact.pk).deleted_at is not None
    event = OutboxEvent.objects.unscoped().get(aggregate_id=contact.pk)
    assert event.event_type == "contact.deleted"
    assert event.payload["actor"]["type"] == "user"
    assert Contact.objects.unscoped().get(pk=contact.pk).changes.get().source == "admin"


@pytest.mark.django_db
def test_admin_contact_page_lists_its_history_field_by_field(operator_client, api, tenant):
    """The history inline shows one line per changed field (the stored rows hold one change each)."""
    contact = api.post(
        reverse("contact-list"), {"email": "inline@example.com", "city": "Bergen"}, format="json"
    )
    api.patch(
        reverse("contact-detail", kwargs={"pk": contact.json()["id"]}), {"city": "Tromsø"}, format="json"
    )
    page = operator_client.get(reverse("admin:contacts_contact_change", args=[contact.json()["id"]]))
    inline = page.context["inline_admin_formsets"][-1]
    lines = [(form.original.field, form.original.new_value) for form in inline]
    assert lines[0] == ("city", "Tromsø")  # newest first
    assert {"email", "city", "display_name", "status", "source"} <= {field for field, _ in lines}
    assert len(lines) == 6
    assert "Tromsø" in page.content.decode() and "Contact changes" in page.content.decode()


@pytest.mark.django_db
def test_admin_issues_an_api_key_once_and_stores_only_its_hash(operator_client, tenant):
    response = operator_client.post(
        reverse("admin:contacts_service_apikey_add"),
        {"tenant": str(tenant.pk), "name": "from-admin", "role": "contacts_viewer"},
        follow=True,
    )
    assert response.status_code == 200
    messages = [str(m) for m in response.context["messages"]]
    assert any("csk_" in m for m in messages), messages


def test_non_staff_cannot_open_the_admin(client, db):
    client.force_login(UserFactory(is_staff=False))
    response = client.get(reverse("admin:contacts_contact_changelist"))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.django_db
def test_admin_shows_who_a_list_is_shared_with(operator_client, api, tenant, user_client_for):
    contact_list = api.post(reverse("list-list"), {"name": "Shared"}, format="json").json()
    _, user = user_client_for(tenant, "contacts_viewer")
    api.post(
        reverse("list-shares", kwargs={"pk": contact_list["id"]}), {"user_id": str(user.pk)}, format="json"
    )
    url = reverse("admin:lists_contactlist_permissions", args=[contact_list["id"]])
    page = operator_client.get(url)
    assert page.status_code == 200
    assert user.username in page.content.decode()

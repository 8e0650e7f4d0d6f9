"""Django admin: "Erase permanently (GDPR)" asks first, then erases through contacts.gdpr."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from contacts.models import Contact, ErasureTombstone
from events.models import OutboxEvent
from tests.factories import ContactFactory, UserFactory

CHANGELIST = reverse("admin:contacts_contact_changelist")


@pytest.mark.django_db
def test_erase_action_confirms_then_erases_live_and_soft_deleted_contacts(client, tenant, other_tenant):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    live = ContactFactory(tenant=tenant, email="live@erase.example")
    gone = ContactFactory(tenant=other_tenant, email="gone@erase.example", phone="+33612345678")
    Contact.objects.unscoped().filter(pk=gone.pk).update(deleted_at="2026-01-01T00:00:00Z")
    selected = {"action": "erase_permanently", "_selected_action": [str(live.pk), str(gone.pk)]}

    confirm = client.post(CHANGELIST, selected)
    assert confirm.status_code == 200
    page = confirm.content.decode()
    assert "live@erase.example" in page and "gone@erase.example" in page and "cannot be undone" in page
    assert Contact.objects.unscoped().filter(pk__in=[live.pk, gone.pk]).count() == 2

    done = client.post(CHANGELIST, {**selected, "post": "yes"}, follow=True)
    assert done.status_code == 200
    [message] = [str(m) for m in done.context["messages"]]
    assert message.startswith("Erased 2 contacts permanently") and str(live.pk) in message
    assert "erase.example" not in message
    assert not Contact.objects.unscoped().filter(pk__in=[live.pk, gone.pk]).exists()
    assert ErasureTombstone.objects.for_tenant(other_tenant).get().phone_hash
    for contact in (live, gone):
        event = OutboxEvent.objects.unscoped().get(aggregate_id=contact.pk)
        assert event.payload["data"] == {"contact_id": str(contact.pk), "reason": "erased"}
        assert event.payload["actor"]["type"] == "user"


@pytest.mark.django_db
def test_staff_without_the_erase_permission_do_not_get_the_action(client, tenant):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_contact"))
    client.force_login(staff)
    contact = ContactFactory(tenant=tenant)
    page = client.get(CHANGELIST)
    assert page.status_code == 200 and "erase_permanently" not in page.content.decode()
    client.post(
        CHANGELIST, {"action": "erase_permanently", "_selected_action": [str(contact.pk)], "post": "yes"}
    )
    assert Contact.objects.unscoped().filter(pk=contact.pk).exists()

    staff.user_permissions.add(Permission.objects.get(codename="erase_contact"))
    assert "erase_permanently" in client.get(CHANGELIST).content.decode()

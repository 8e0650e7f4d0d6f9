"""The admin's consent purposes, tags and lists, the X-Tenant-ID header with an API key, and HEAD on
every tenant endpoint: edges that were 500s, silent or refused."""

from __future__ import annotations

import pytest
from django.urls import reverse

from consent.models import ConsentPurpose, ConsentRecord
from events.models import OutboxEvent
from lists.models import ContactList, ListMembership
from tags.models import Tag, TagAssignment
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


# --- Admin: saving a consent purpose is a 500 ---------------------------------------------------


def test_admin_add_consent_purpose_is_not_500(operator_client, tenant):
    url = reverse("admin:consent_consentpurpose_add")
    response = operator_client.post(
        url, {"tenant": str(tenant.pk), "key": "surveys", "label": "Surveys", "description": ""}
    )
    assert response.status_code == 302, response.status_code
    assert ConsentPurpose.objects.for_tenant(tenant).filter(key="surveys").exists()


def test_admin_add_duplicate_consent_purpose_is_a_form_error_not_500(operator_client, tenant):
    url = reverse("admin:consent_consentpurpose_add")
    response = operator_client.post(
        url, {"tenant": str(tenant.pk), "key": "marketing", "label": "Marketing", "description": ""}
    )
    assert response.status_code == 200, response.status_code  # form shown again with the error


def test_admin_edit_consent_purpose_label_is_not_500(operator_client, tenant):
    purpose = ConsentPurpose.objects.for_tenant(tenant).get(key="marketing")
    url = reverse("admin:consent_consentpurpose_change", args=[purpose.pk])
    response = operator_client.post(url, {"label": "Promotions", "description": ""})
    assert response.status_code == 302, response.status_code
    purpose.refresh_from_db()
    assert purpose.label == "Promotions"


# --- API key + X-Tenant-ID compared as a raw string ----------------------------------------------


def test_api_key_with_non_uuid_tenant_header_is_400_naming_the_header(api):
    response = api.get(reverse("me"), HTTP_X_TENANT_ID="not-a-uuid")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["field"] == "X-Tenant-ID"


def test_api_key_with_its_own_tenant_id_in_upper_case_is_not_another_tenant(api, tenant):
    response = api.get(reverse("me"), HTTP_X_TENANT_ID=str(tenant.pk).upper())
    assert response.status_code == 200, response.content


# --- HEAD on tenant API views (non-viewset) is a 403 for every role ------------------------------


def test_head_me_for_an_owner_is_not_403(api):
    response = api.head(reverse("me"))
    assert response.status_code == 200, (response.status_code, response.content)


def test_head_contact_consents_for_an_owner_is_not_403(api, tenant):
    contact = ContactFactory(tenant=tenant)
    response = api.head(reverse("contact-consents", kwargs={"contact_pk": contact.pk}))
    assert response.status_code == 200, (response.status_code, response.content)


# --- Admin deletes a consent purpose that the ledger uses (API: 409 in_use) ----------------------


def test_admin_cannot_delete_a_consent_purpose_in_the_ledger(operator_client, api, tenant):
    contact = ContactFactory(tenant=tenant)
    response = api.post(
        reverse("contact-consents", kwargs={"contact_pk": contact.pk}),
        {"channel": "email", "purpose": "marketing", "status": "granted"},
        format="json",
    )
    assert response.status_code == 201
    purpose = ConsentPurpose.objects.for_tenant(tenant).get(key="marketing")
    # the API refuses
    assert api.delete(reverse("consent-purpose-detail", args=[purpose.pk])).status_code == 409
    # the admin's delete page / bulk action must refuse too
    url = reverse("admin:consent_consentpurpose_changelist")
    operator_client.post(
        url, {"action": "delete_selected", "_selected_action": [str(purpose.pk)], "post": "yes"}
    )
    assert ConsentPurpose.objects.for_tenant(tenant).filter(key="marketing").exists()
    assert ConsentRecord.objects.for_tenant(tenant).filter(purpose="marketing").exists()


# --- Admin: deleting a tag or a list goes through the API's service (events written) --------------


def test_admin_deleting_a_tag_untags_its_contacts_with_their_events(operator_client, api, tenant):
    ann, bob = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    for contact in (ann, bob):
        response = api.post(
            reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": ["VIP"]}, format="json"
        )
        assert response.status_code == 200, response.content
    tag = Tag.objects.for_tenant(tenant).get(name="VIP")
    response = operator_client.post(reverse("admin:tags_tag_delete", args=[tag.pk]), {"post": "yes"})
    assert response.status_code == 302, response.status_code
    assert not Tag.objects.for_tenant(tenant).exists()
    assert not TagAssignment.objects.for_tenant(tenant).exists()
    untagged = OutboxEvent.objects.unscoped().filter(tenant=tenant, event_type="contact.untagged")
    assert sorted(e.aggregate_id for e in untagged) == sorted([ann.pk, bob.pk])
    assert {e.payload["actor"]["type"] for e in untagged} == {"user"}


def test_admin_delete_action_on_lists_removes_members_with_their_events(operator_client, api, tenant):
    ann = ContactFactory(tenant=tenant)
    created = api.post(reverse("list-list"), {"name": "Newsletter"}, format="json").json()
    api.post(
        reverse("list-contacts", kwargs={"pk": created["id"]}), {"contact_ids": [str(ann.pk)]}, format="json"
    )
    response = operator_client.post(
        reverse("admin:lists_contactlist_changelist"),
        {"action": "delete_selected", "_selected_action": [created["id"]], "post": "yes"},
    )
    assert response.status_code == 302, response.status_code
    assert not ContactList.objects.for_tenant(tenant).exists()
    assert not ListMembership.objects.for_tenant(tenant).exists()
    removed = OutboxEvent.objects.unscoped().filter(tenant=tenant, event_type="contact.removed_from_list")
    assert [e.aggregate_id for e in removed] == [ann.pk]


def test_admin_delete_action_refuses_purposes_in_the_ledger(operator_client, api, tenant):
    contact = ContactFactory(tenant=tenant)
    response = api.post(
        reverse("contact-consents", kwargs={"contact_pk": contact.pk}),
        {"channel": "email", "purpose": "marketing", "status": "granted"},
        format="json",
    )
    assert response.status_code == 201
    purposes = {p.key: p for p in ConsentPurpose.objects.for_tenant(tenant)}
    changelist = reverse("admin:consent_consentpurpose_changelist")
    both = [str(purposes["marketing"].pk), str(purposes["newsletter"].pk)]
    confirm = operator_client.post(changelist, {"action": "delete_selected", "_selected_action": both})
    assert "would require deleting the following protected" in confirm.content.decode() or (
        "your account doesn't have permission to delete" in confirm.content.decode()
    )
    refused = operator_client.post(
        changelist, {"action": "delete_selected", "_selected_action": both, "post": "yes"}
    )
    assert refused.status_code == 403
    assert {"marketing", "newsletter"} <= set(
        ConsentPurpose.objects.for_tenant(tenant).values_list("key", flat=True)
    )
    unused = [str(purposes["newsletter"].pk)]
    done = operator_client.post(
        changelist, {"action": "delete_selected", "_selected_action": unused, "post": "yes"}
    )
    assert done.status_code == 302
    left = set(ConsentPurpose.objects.for_tenant(tenant).values_list("key", flat=True))
    assert "marketing" in left and "newsletter" not in left
    delete_page = reverse("admin:consent_consentpurpose_delete", args=[purposes["marketing"].pk])
    assert operator_client.get(delete_page).status_code == 403

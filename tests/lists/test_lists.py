"""Static lists: CRUD, members by ids or filter, members page, list filter, events."""

import itertools

import pytest
from django.urls import reverse

from contacts_service.roles import Perm
from events.models import OutboxEvent
from lists.models import ContactList, ListMembership
from tests.api_base import TenantAPITestBase
from tests.factories import ContactFactory

_seq = itertools.count()
LISTS = reverse("list-list")
CONTACTS = reverse("contact-list")


class TestListsEndpoint(TenantAPITestBase):
    list_url_name = "list-list"
    detail_url_name = "list-detail"
    permissions = {
        "list": Perm.CONTACTS_VIEW,
        "retrieve": Perm.CONTACTS_VIEW,
        "create": Perm.LISTS_MANAGE,
        "partial_update": Perm.LISTS_MANAGE,
        "destroy": Perm.LISTS_MANAGE,
    }
    invalid_data = [
        ({"name": ""}, "name"),
        ({"name": "L", "kind": "smart"}, "kind"),
        ({"name": "L", "status": "deleted"}, "status"),
        ({"name": "L", "owner": "me"}, "owner"),
    ]

    def make_object(self, tenant):
        contact_list = ContactList(tenant=tenant, name=f"List {next(_seq)}")
        contact_list.save(force_insert=True)
        return contact_list

    def model_rows(self, tenant):
        return [
            self.rows(ContactList.objects.for_tenant(tenant)),
            ListMembership.objects.for_tenant(tenant).count(),
        ]

    def create_payload(self):
        return {"name": f"Newsletter {next(_seq)}", "description": "Weekly"}

    def update_payload(self):
        return {"status": "archived"}


def members_url(list_id) -> str:
    return reverse("list-contacts", kwargs={"pk": list_id})


@pytest.mark.django_db
def test_add_members_by_ids_and_filter_page_them_newest_first_and_remove(api, tenant):
    newsletter = api.post(LISTS, {"name": "Newsletter"}, format="json").json()
    assert newsletter["kind"] == "static" and newsletter["member_count"] == 0
    fr = [ContactFactory(tenant=tenant, country="FR", email=f"fr{n}@x.com") for n in range(3)]
    ContactFactory(tenant=tenant, country="DE", email="de@x.com")

    first = api.post(members_url(newsletter["id"]), {"contact_ids": [str(fr[0].pk)]}, format="json")
    assert first.json() == {"changed": 1}
    rest = api.post(members_url(newsletter["id"]), {"filter": {"country": "FR"}}, format="json")
    assert rest.json() == {"changed": 2}
    again = api.post(members_url(newsletter["id"]), {"filter": {"country": "FR"}}, format="json")
    assert again.json() == {"changed": 0}
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.added_to_list").count() == 3

    page = api.get(members_url(newsletter["id"])).json()
    assert page["count"] == 3
    assert page["results"][-1]["email"] == "fr0@x.com"  # added first, listed last
    assert all(r["added_at"] for r in page["results"])
    assert api.get(reverse("list-detail", kwargs={"pk": newsletter["id"]})).json()["member_count"] == 3
    assert sorted(c["email"] for c in api.get(CONTACTS, {"list": newsletter["id"]}).json()["results"]) == [
        "fr0@x.com", "fr1@x.com", "fr2@x.com",
    ]  # fmt: skip

    removed = api.post(
        reverse("list-remove-contacts", kwargs={"pk": newsletter["id"]}),
        {"contact_ids": [str(fr[1].pk)]},
        format="json",
    )
    assert removed.json() == {"changed": 1}
    event = OutboxEvent.objects.unscoped().get(event_type="contact.removed_from_list")
    assert event.payload["data"]["list"] == {"id": newsletter["id"], "name": "Newsletter", "kind": "static"}
    assert api.get(members_url(newsletter["id"])).json()["count"] == 2


@pytest.mark.django_db
def test_list_names_are_unique_per_tenant_ignoring_case(client_for, tenant, other_tenant):
    assert client_for(tenant).post(LISTS, {"name": "VIPs"}, format="json").status_code == 201
    assert client_for(tenant).post(LISTS, {"name": "vips"}, format="json").status_code == 400
    assert client_for(other_tenant).post(LISTS, {"name": "VIPs"}, format="json").status_code == 201


@pytest.mark.django_db
def test_members_of_another_tenant_cannot_be_added_or_seen(client_for, tenant, other_tenant):
    api = client_for(tenant)
    mine = api.post(LISTS, {"name": "Mine"}, format="json").json()
    theirs_contact = ContactFactory(tenant=other_tenant)
    response = api.post(members_url(mine["id"]), {"contact_ids": [str(theirs_contact.pk)]}, format="json")
    assert response.status_code == 400
    assert ListMembership.objects.unscoped().count() == 0
    their_list = client_for(other_tenant).post(LISTS, {"name": "Theirs"}, format="json").json()
    assert api.get(members_url(their_list["id"])).status_code == 404
    mine_contact = ContactFactory(tenant=tenant)
    add = api.post(members_url(their_list["id"]), {"contact_ids": [str(mine_contact.pk)]}, format="json")
    assert add.status_code == 404
    assert api.get(CONTACTS, {"list": their_list["id"]}).json()["count"] == 0


@pytest.mark.django_db
def test_deleting_a_list_removes_members_with_events_and_keeps_contacts(api, tenant):
    contact_list = api.post(LISTS, {"name": "Temp"}, format="json").json()
    contacts = [ContactFactory(tenant=tenant) for _ in range(2)]
    api.post(members_url(contact_list["id"]), {"contact_ids": [str(c.pk) for c in contacts]}, format="json")
    assert api.delete(reverse("list-detail", kwargs={"pk": contact_list["id"]})).status_code == 204
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.removed_from_list").count() == 2
    assert api.get(CONTACTS).json()["count"] == 2


@pytest.mark.django_db
def test_viewer_can_read_members_but_not_change_them(client_for, tenant):
    owner, viewer = client_for(tenant), client_for(tenant, "contacts_viewer")
    contact_list = owner.post(LISTS, {"name": "L"}, format="json").json()
    contact = ContactFactory(tenant=tenant)
    assert viewer.get(members_url(contact_list["id"])).status_code == 200
    denied = viewer.post(members_url(contact_list["id"]), {"contact_ids": [str(contact.pk)]}, format="json")
    assert denied.status_code == 403
    assert ListMembership.objects.unscoped().count() == 0
    contacts_manager = client_for(tenant, "contacts_manager")
    assert contacts_manager.post(LISTS, {"name": "Nope"}, format="json").status_code == 403


@pytest.mark.django_db
def test_soft_deleted_members_are_hidden_from_pages_and_counts(api, tenant):
    contact_list = api.post(LISTS, {"name": "L"}, format="json").json()
    contacts = [ContactFactory(tenant=tenant) for _ in range(2)]
    api.post(members_url(contact_list["id"]), {"contact_ids": [str(c.pk) for c in contacts]}, format="json")
    api.delete(reverse("contact-detail", kwargs={"pk": contacts[0].pk}))
    assert api.get(members_url(contact_list["id"])).json()["count"] == 1
    assert api.get(reverse("list-detail", kwargs={"pk": contact_list["id"]})).json()["member_count"] == 1


@pytest.mark.django_db
def test_an_action_name_as_a_list_id_is_a_documented_json_405(api, anon):
    """Found by the schemathesis run: GET /lists/{id}/ with id "preview" reaches the preview action (POST
    only): a 405 the schema did not list."""
    response = api.get(reverse("list-detail", kwargs={"pk": "preview"}))
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
    schema = anon.get("/api/schema/", {"format": "json"}).json()
    assert "405" in schema["paths"]["/api/v1/lists/{id}/"]["get"]["responses"]

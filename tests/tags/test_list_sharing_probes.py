"""Probes: list sharing grants stay on the shared list; viewer denials on tag deletes."""

import pytest
from django.urls import reverse

from contacts_service.roles import Role
from tags.models import Tag, TagAssignment
from tests.factories import ContactFactory

LISTS = reverse("list-list")


@pytest.mark.django_db
def test_shared_viewer_limited_to_the_list(api, tenant, user_client_for):
    client, user = user_client_for(tenant, Role.CONTACTS_VIEWER)
    a = api.post(LISTS, {"name": "A"}, format="json").json()["id"]
    b = api.post(LISTS, {"name": "B"}, format="json").json()["id"]
    assert (
        api.post(
            reverse("list-shares", kwargs={"pk": a}), {"user_id": str(user.pk)}, format="json"
        ).status_code
        == 201
    )
    c = ContactFactory(tenant=tenant)
    assert (
        client.patch(
            reverse("list-detail", kwargs={"pk": a}), {"description": "x"}, format="json"
        ).status_code
        == 200
    )
    assert (
        client.patch(
            reverse("list-detail", kwargs={"pk": b}), {"description": "x"}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("list-contacts", kwargs={"pk": a}), {"contact_ids": [str(c.pk)]}, format="json"
        ).status_code
        == 200
    )
    assert (
        client.post(
            reverse("list-contacts", kwargs={"pk": b}), {"contact_ids": [str(c.pk)]}, format="json"
        ).status_code
        == 403
    )
    assert client.delete(reverse("list-detail", kwargs={"pk": a})).status_code == 403
    assert (
        client.post(reverse("list-copy", kwargs={"pk": a}), {"name": "C"}, format="json").status_code == 403
    )
    assert (
        client.post(
            reverse("list-merge", kwargs={"pk": a}), {"lists": [b], "delete_merged": True}, format="json"
        ).status_code
        == 403
    )
    assert client.get(reverse("list-shares", kwargs={"pk": a})).status_code == 403
    assert (
        client.post(reverse("list-merge", kwargs={"pk": a}), {"lists": [b]}, format="json").status_code == 200
    )


@pytest.mark.django_db
def test_viewer_cannot_delete_tag_or_untag(client_for, tenant, api):
    viewer = client_for(tenant, Role.CONTACTS_VIEWER)
    c = ContactFactory(tenant=tenant)
    api.post(reverse("contact-add-tags", kwargs={"pk": c.pk}), {"tags": ["X"]}, format="json")
    tag = Tag.objects.for_tenant(tenant).get()
    assert (
        viewer.delete(reverse("contact-remove-tag", kwargs={"pk": c.pk, "tag_id": tag.pk})).status_code == 403
    )
    assert viewer.delete(reverse("tag-detail", kwargs={"pk": tag.pk})).status_code == 403
    assert TagAssignment.objects.for_tenant(tenant).count() == 1

"""Deleting a list outside a test's wrapping transaction (a real request, autocommit): list_delete
row-locks the list, so it must run in its own transaction. Found by a review: a helper inserted
between @transaction.atomic and list_delete took the decorator, and DELETE /lists/{id}/ was a 500."""

import pytest
from django.urls import reverse

from contacts_service.context import SYSTEM_ACTOR
from lists import services
from lists.models import ContactList


@pytest.mark.django_db(transaction=True)
def test_deleting_a_list_through_the_api_outside_a_test_transaction(api):
    created = api.post(reverse("list-list"), {"name": "News"}, format="json")
    assert created.status_code == 201, created.content

    response = api.delete(reverse("list-detail", kwargs={"pk": created.json()["id"]}))

    assert response.status_code == 204, response.content
    assert not ContactList.objects.unscoped().filter(pk=created.json()["id"]).exists()


def test_list_delete_is_still_atomic():
    # The decorator ended up on the helper instead of the service.
    assert hasattr(services.list_delete, "__wrapped__") or "atomic" in repr(services.list_delete), (
        "list_delete is not wrapped in transaction.atomic"
    )


@pytest.mark.django_db(transaction=True)
def test_admin_delete_selected_outside_a_test_transaction(operator_client, tenant):
    first = services.list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="One")
    second = services.list_create(tenant=tenant, actor=SYSTEM_ACTOR, name="Two")

    response = operator_client.post(
        reverse("admin:lists_contactlist_changelist"),
        {"action": "delete_selected", "_selected_action": [str(first.pk), str(second.pk)], "post": "yes"},
    )

    assert response.status_code == 302, response.status_code
    assert not ContactList.objects.unscoped().filter(pk__in=[first.pk, second.pk]).exists()

"""A merge racing with another writer on the values it takes over answers a 4xx or succeeds, never 500."""

import threading
import time

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from contacts import services
from contacts.models import ContactIdentifier, Merge
from contacts_service import services as tenancy
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from tests.factories import TenantFactory
from tests.merges.conftest import merge_url


@pytest.mark.django_db(transaction=True)
def test_a_merge_racing_an_identifier_added_to_a_third_contact_is_not_a_500():
    """The merge turns B's email into an email identifier of the primary unless "another contact holds
    that identifier". It checks that once, then inserts: a third contact given that identifier in a
    transaction committing meanwhile makes the insert hit identifier_unique, an IntegrityError the
    merge does not handle (500). Expected: the merge succeeds without that identifier (as when C
    held it first), or a 409; never a 500 and never half a merge."""
    tenant = TenantFactory()
    with tenant_context(tenant):
        primary = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "a@example.com"})
        other = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "b@example.com"})
        third = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "c@example.com"})
    key = tenancy.apikey_create(tenant=tenant, name="race", role=Role.OWNER).key
    inserted, release, results = threading.Event(), threading.Event(), {}

    def add_identifier() -> None:
        try:
            with tenant_context(tenant), transaction.atomic():
                services.identifier_add(
                    tenant=tenant, actor=SYSTEM_ACTOR, contact_id=third.pk, channel="email",
                    value="b@example.com",
                )  # fmt: skip
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    def merge() -> None:
        try:
            client = APIClient(raise_request_exception=False)
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
            results["merge"] = client.post(merge_url(primary.pk), {"others": [str(other.pk)]}, format="json")
        finally:
            connection.close()

    adder = threading.Thread(target=add_identifier)
    adder.start()
    assert inserted.wait(10)
    merger = threading.Thread(target=merge)
    merger.start()
    time.sleep(1.0)  # the merge reaches its identifier insert and waits on the uncommitted row
    release.set()
    adder.join(15)
    merger.join(15)

    response = results["merge"]
    assert response.status_code in (201, 409), (response.status_code, response.content[:500])
    holder = ContactIdentifier.objects.unscoped().get(channel="email", value="b@example.com").contact_id
    if response.status_code == 201:
        assert holder == third.pk
        assert Merge.objects.unscoped().filter(tenant=tenant).count() == 1
    else:
        assert Merge.objects.unscoped().filter(tenant=tenant).count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_undo_racing_a_contact_created_with_a_restored_email_is_a_409_not_a_500():
    """Undo refuses with 409 `unique` when another live contact has an email a restored contact had
    (docs/api.md, Undo). It checks before writing; a contact created with that email in a transaction
    committing between the check and the undo's UPDATE makes contact_email_unique_live fail inside
    the undo: an unhandled IntegrityError (500). Expected: the documented 409 `unique`, nothing
    changed (the merge still applied)."""
    tenant = TenantFactory()
    with tenant_context(tenant):
        primary = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "a@example.com"})
        other = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "b@example.com"})
        merge = services.contact_merge(
            tenant=tenant, actor=SYSTEM_ACTOR, primary_id=primary.pk, other_ids=[other.pk]
        ).merge
    key = tenancy.apikey_create(tenant=tenant, name="race", role=Role.OWNER).key
    created, release, results = threading.Event(), threading.Event(), {}

    def create_contact() -> None:
        try:
            with tenant_context(tenant), transaction.atomic():
                services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "b@example.com"})
                created.set()
                release.wait(10)
        finally:
            connection.close()

    def undo() -> None:
        try:
            client = APIClient(raise_request_exception=False)
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
            results["undo"] = client.post(f"/api/v1/merges/{merge.pk}/undo/")
        finally:
            connection.close()

    creator = threading.Thread(target=create_contact)
    creator.start()
    assert created.wait(10)
    undoer = threading.Thread(target=undo)
    undoer.start()
    time.sleep(1.0)  # the undo passed its check and waits on the uncommitted contact's index entry
    release.set()
    creator.join(15)
    undoer.join(15)

    response = results["undo"]
    assert response.status_code == 409, (response.status_code, response.content[:500])
    assert response.json()["code"] == "unique"
    assert Merge.objects.unscoped().get(pk=merge.pk).status == "applied"

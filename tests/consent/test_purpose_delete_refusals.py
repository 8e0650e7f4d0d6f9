"""Deleting a consent purpose still in use (API and admin), and the admin's bounds on a purpose."""

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from consent.models import ConsentPurpose
from imports.models import ImportJob, ImportStatus


def _purpose(api, tenant, key="promo") -> ConsentPurpose:
    r = api.post("/api/v1/consent-purposes/", {"key": key}, format="json")
    assert r.status_code == 201, r.content
    return ConsentPurpose.objects.unscoped().get(tenant=tenant, key=key)


def _queued_import_mapping(tenant, key) -> ImportJob:
    return ImportJob.objects.unscoped().create(
        tenant=tenant, status=ImportStatus.QUEUED, file="x.csv", filename="x.csv", encoding="utf-8",
        delimiter=",", header=["email", "c"], mapping={"email": "email", "c": f"consent.email.{key}"},
    )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize("way", ["delete_page", "delete_action"])
def test_admin_delete_of_a_purpose_a_queued_import_maps_is_not_reported_as_deleted(
    operator_client, api, tenant, way
):
    """An operator deletes a purpose that a queued import maps a column to: it is kept (the service's
    in_use), the warning gives the service's reason, and no "deleted successfully" is shown."""
    purpose = _purpose(api, tenant)
    _queued_import_mapping(tenant, "promo")
    if way == "delete_page":
        url = reverse("admin:consent_consentpurpose_delete", args=[purpose.pk])
        page = operator_client.post(url, {"post": "yes"}, follow=True)
    else:
        url = reverse("admin:consent_consentpurpose_changelist")
        body = {"action": "delete_selected", ACTION_CHECKBOX_NAME: [str(purpose.pk)], "post": "yes"}
        page = operator_client.post(url, body, follow=True)
    messages = [str(m) for m in page.context["messages"]]
    assert ConsentPurpose.objects.unscoped().filter(pk=purpose.pk).exists()  # kept, as it should be
    assert not any("deleted successfully" in m.lower() for m in messages), messages
    assert not any("consent ledger" in m for m in messages), messages  # the reason is the import


@pytest.mark.django_db
def test_admin_purpose_description_is_bounded_as_the_api_bounds_it(operator_client, api, tenant):
    """The admin's change page refuses a description over 2,000 characters, as PATCH does (400)."""
    purpose = ConsentPurpose.objects.unscoped().get(tenant=tenant, key="marketing")
    assert api.patch(f"/api/v1/consent-purposes/{purpose.pk}/", {"description": "x" * 5000},
                     format="json").status_code == 400  # fmt: skip
    url = reverse("admin:consent_consentpurpose_change", args=[purpose.pk])
    operator_client.post(url, {"label": "Marketing", "description": "x" * 5000})
    purpose.refresh_from_db()
    assert len(purpose.description) <= 2000


@pytest.mark.django_db
def test_a_purpose_a_segments_rules_name_cannot_be_deleted_from_under_the_segment(api, tenant):
    """A dynamic list's rules name consent.email.promo (no ledger entry yet): deleting the purpose is a
    409 in_use naming the segment, as for an attribute definition, so the segment keeps following
    contacts and can still be copied."""
    purpose = _purpose(api, tenant)
    rules = {"operator": "and", "rules": [{"field": "consent.email.promo", "op": "neq", "value": "granted"}]}
    segment = api.post("/api/v1/lists/", {"name": "seg", "kind": "dynamic", "rules": rules}, format="json")
    assert segment.status_code == 201, segment.content
    lid = segment.json()["id"]
    deleted = api.delete(f"/api/v1/consent-purposes/{purpose.pk}/")
    assert deleted.status_code == 409, deleted.status_code
    assert deleted.json()["code"] == "in_use"
    assert deleted.json()["segments"] == [{"id": lid, "name": "seg"}]
    assert ConsentPurpose.objects.unscoped().filter(pk=purpose.pk).exists()
    assert api.post(f"/api/v1/lists/{lid}/copy/", {"name": "copy"}, format="json").status_code == 201

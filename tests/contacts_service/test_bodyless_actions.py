"""Actions that take no body refuse one with fields (a 400 naming them, nothing done), as an unknown
field is refused anywhere else: `{"dry_run": true}` on erase erased the contact for good."""

import pytest
from django.urls import reverse

from contacts.models import Contact
from imports.models import ImportJob
from tests.imports.conftest import job_url, upload

CONTACTS = reverse("contact-list")


def _erase(contact_id) -> str:
    return reverse("contact-gdpr-erase", kwargs={"pk": contact_id})


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "fields"), [({"dry_run": True}, ["dry_run"]), ({"b": 1, "a": 2}, ["a", "b"]), ([1], [None])]
)
def test_erase_with_a_body_is_a_400_and_erases_nothing(api, tenant, body, fields):
    contact = api.post(CONTACTS, {"email": "keep.me@example.com"}, format="json").json()
    response = api.post(_erase(contact["id"]), body, format="json")
    assert response.status_code == 400, response.json()
    assert [e["field"] for e in response.json()["errors"]] == fields
    assert Contact.objects.for_tenant(tenant).filter(pk=contact["id"]).exists()


@pytest.mark.django_db
def test_an_empty_body_or_none_still_works(api, tenant):
    ann = api.post(CONTACTS, {"email": "ann@example.com"}, format="json").json()
    bob = api.post(CONTACTS, {"email": "bob@example.com"}, format="json").json()
    assert api.post(_erase(ann["id"]), {}, format="json").status_code == 200
    assert api.post(_erase(bob["id"])).status_code == 200
    assert not Contact.objects.for_tenant(tenant).exists()


@pytest.mark.django_db
def test_import_start_with_a_body_is_a_400_and_does_not_queue(api, tenant):
    job = upload(api, "Email\nann@example.com\n").json()
    response = api.post(job_url(job["id"], "start"), {"list_id": None}, format="json")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "list_id"
    assert ImportJob.objects.for_tenant(tenant).get(pk=job["id"]).status == "draft"


@pytest.mark.django_db
def test_restore_with_a_body_is_a_400(api, tenant):
    ann = api.post(CONTACTS, {"email": "ann@example.com"}, format="json").json()
    assert api.delete(reverse("contact-detail", kwargs={"pk": ann["id"]})).status_code == 204
    restore = reverse("contact-restore", kwargs={"pk": ann["id"]})
    assert api.post(restore, {"force": True}, format="json").status_code == 400
    assert Contact.objects.for_tenant(tenant).get(pk=ann["id"]).deleted_at is not None

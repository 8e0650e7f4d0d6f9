"""An erasure deletes the files of the tenant's exports written before it (they may hold the contact and
are never served again), and their jobs stop showing a download link."""

from django.core.files.storage import default_storage

from imports.models import ExportJob
from tests.factories import ContactFactory
from tests.imports.test_export import detail_url


def test_an_export_file_holding_an_erased_contact_is_deleted_by_the_erasure(
    api, export, tenant, django_capture_on_commit_callbacks
):
    erased = ContactFactory(tenant=tenant, email="olga.erased@example.com")
    ContactFactory(tenant=tenant, email="kept@example.com")
    job = export(columns=["email"])
    name = ExportJob.objects.unscoped().get(pk=job["id"]).file
    assert b"olga.erased@example.com" in default_storage.open(name).read()

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/api/v1/contacts/{erased.pk}/erase/")
    assert response.status_code == 200, response.content

    # Deleted with the erasure, not when someone next tries the download or by exports_prune days later.
    assert not default_storage.exists(name)


def test_the_job_of_an_export_written_before_an_erasure_shows_no_download_link(api, export, tenant):
    erased = ContactFactory(tenant=tenant, email="olga.erased@example.com")
    job = export(columns=["email"])

    assert api.post(f"/api/v1/contacts/{erased.pk}/erase/").status_code == 200

    after = api.get(detail_url(job["id"])).json()
    assert after["download_url"] is None

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


def test_an_export_written_while_a_contact_is_erased_is_written_again_without_it(
    api, export, tenant, monkeypatch
):
    """Found by a bug hunt: an erasure committing while the export's rows were being written left
    the export completed with a file that may hold the contact and a download_url answering 410 until
    retention pruned it. The export now sees the erasure before it completes and writes again."""
    from contacts.gdpr import contact_erase
    from contacts_service.context import SYSTEM_ACTOR, tenant_context
    from imports import exports

    erased = ContactFactory(tenant=tenant, email="olga.erased@example.com")
    ContactFactory(tenant=tenant, email="kept@example.com")
    real_write, calls = exports.export_write, []

    def write_then_erasure(**kwargs):
        rows = real_write(**kwargs)
        calls.append(rows)
        if len(calls) == 1:  # the erasure commits after the rows were read
            with tenant_context(tenant):
                contact_erase(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=erased.pk)
        return rows

    monkeypatch.setattr(exports, "export_write", write_then_erasure)
    job = export(columns=["email"])

    assert calls == [2, 1]
    assert job["status"] == "completed" and job["row_count"] == 1 and job["download_url"]
    download = api.get(job["download_url"])
    assert download.status_code == 200, download.content
    body = b"".join(download.streaming_content) if download.streaming else download.content
    assert b"olga.erased@example.com" not in body and b"kept@example.com" in body


def test_an_export_raced_by_an_erasure_each_time_fails_saying_so(api, export, tenant, monkeypatch):
    from contacts.gdpr import contact_erase
    from contacts_service.context import SYSTEM_ACTOR, tenant_context
    from imports import exports

    doomed = [ContactFactory(tenant=tenant, email=f"gone{n}@example.com") for n in range(3)]
    real_write = exports.export_write

    def write_then_erasure(**kwargs):
        rows = real_write(**kwargs)
        with tenant_context(tenant):
            contact_erase(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=doomed.pop().pk)
        return rows

    monkeypatch.setattr(exports, "export_write", write_then_erasure)
    job = export(columns=["email"])

    assert doomed == []  # written three times
    assert job["status"] == "failed" and job["download_url"] is None
    assert "erased" in job["error"]
    assert not ExportJob.objects.unscoped().get(pk=job["id"]).file

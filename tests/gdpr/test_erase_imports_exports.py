"""Erasure vs. what imports and exports keep: an import's failed rows (errors.csv), its upload, and
export files written before the erasure."""

import pytest
from django.urls import reverse

from tests.gdpr.conftest import CONTACTS, detail, table_hits
from tests.imports.conftest import job_url, run, upload

SECRET = "ysolde.quarrington@erase-import.example"
EXPORTED = "theodora.erased@export-file.example"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def _errors_csv(api, job_id) -> str:
    return b"".join(api.get(job_url(job_id, "errors")).streaming_content).decode()


@pytest.mark.django_db
def test_erase_leaves_the_contacts_email_and_id_in_an_imports_errors_csv(api):
    """Given a contact whose email an import row tried to take (the row failed naming the contact),
    when the contact is erased, then nothing of it is left: not its email in errors.csv, and no row
    but the outbox's contact.deleted and the tombstone names its id (docs/events.md)."""
    created = api.post(
        CONTACTS, {"email": SECRET, "external_id": "crm-1", "first_name": "Ysolde"}, format="json"
    )
    assert created.status_code == 201, created.json()
    contact_id = created.json()["id"]
    content = f"external_id,email,first_name\ncrm-2,{SECRET},Ysolde\n"
    uploaded = upload(api, content)
    assert uploaded.status_code == 201, uploaded.json()
    job = run(api, uploaded.json()["id"], dedupe_key="external_id")
    assert job["failed"] == 1, job
    assert SECRET in _errors_csv(api, job["id"])

    assert api.post(detail(contact_id, "erase")).status_code == 200

    assert SECRET not in _errors_csv(api, job["id"])
    assert table_hits(SECRET) == {}
    assert set(table_hits(contact_id)) == {"events_outboxevent", "contacts_erasuretombstone"}


@pytest.mark.django_db
def test_download_of_an_earlier_export_after_the_erasure_no_longer_holds_the_contact(
    api, django_capture_on_commit_callbacks
):
    """Given a completed CSV export holding a contact, when the contact is erased (delete it and all
    its personal data for good), then downloading that export does not hand its email out again."""
    contact = api.post(CONTACTS, {"email": EXPORTED, "first_name": "Theodora"}, format="json").json()
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(reverse("export-list"), {}, format="json")
    assert created.status_code == 201, created.json()
    job = api.get(reverse("export-detail", kwargs={"pk": created.json()["id"]})).json()
    assert job["status"] == "completed", job
    first = api.get(job["download_url"])
    assert EXPORTED in b"".join(first.streaming_content).decode()

    assert api.post(detail(contact["id"], "erase")).status_code == 200

    job = api.get(reverse("export-detail", kwargs={"pk": job["id"]})).json()
    response = api.get(job["download_url"]) if job["download_url"] else None
    body = (
        b"".join(response.streaming_content).decode() if response is not None and response.streaming else ""
    )
    assert EXPORTED not in body


@pytest.mark.django_db
def test_error_rows_holding_the_contacts_phone_in_any_spelling_or_its_external_id_go(api, tenant):
    from imports.models import ImportRowError

    ann = api.post(
        CONTACTS, {"email": "ann@example.com", "phone": "+33612345678", "external_id": "CRM-7"}, format="json"
    ).json()
    content = (
        "email,phone,external_id,country\n"
        "not-an-email,06 12 34 56 78,x1,FR\n"  # her phone, nationally written
        "also bad,+44 7911 123456,crm-7,\n"  # her external id in another case
        "still bad,+44 7911 123457,x3,\n"  # a stranger's row stays
    )
    job = run(api, upload(api, content).json()["id"])
    assert job["failed"] == 3, job
    assert api.post(detail(ann["id"], "erase")).status_code == 200
    assert list(ImportRowError.objects.for_tenant(tenant).values_list("line", flat=True)) == [4]


@pytest.mark.django_db
def test_an_upload_is_deleted_when_its_import_ends_or_is_cancelled(
    api, tenant, media, django_capture_on_commit_callbacks
):
    from imports.models import ImportJob

    done = upload(api, "Email\nann@example.com\n").json()
    cancelled = upload(api, "Email\nbob@example.com\n").json()
    uploads = lambda: sorted(p.name for p in media.rglob("*.upload"))  # noqa: E731
    assert len(uploads()) == 2
    with django_capture_on_commit_callbacks(execute=True):  # deleted once the end is committed
        run(api, done["id"])
        assert api.post(job_url(cancelled["id"], "cancel")).status_code == 200
    assert uploads() == []
    assert set(ImportJob.objects.for_tenant(tenant).values_list("file", flat=True)) == {""}
    errors = api.get(job_url(done["id"], "errors"))
    assert errors.status_code == 200  # errors.csv does not need the upload


@pytest.mark.django_db
def test_an_export_written_after_the_erasure_is_served(api, django_capture_on_commit_callbacks):
    ann = api.post(CONTACTS, {"email": "ann@example.com"}, format="json").json()
    api.post(CONTACTS, {"email": "bob@example.com"}, format="json")
    assert api.post(detail(ann["id"], "erase")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(reverse("export-list"), {}, format="json").json()
    job = api.get(reverse("export-detail", kwargs={"pk": created["id"]})).json()
    body = b"".join(api.get(job["download_url"]).streaming_content).decode()
    assert "bob@example.com" in body and "ann@example.com" not in body

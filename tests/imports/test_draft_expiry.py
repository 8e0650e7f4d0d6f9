"""An import uploaded but never started is cancelled after IMPORT_DRAFT_RETENTION_SECONDS and its
upload (a file of personal data) deleted; started, recent and other tenants' drafts are left alone."""

import datetime as dt

from django.utils import timezone

from imports.models import ImportJob
from imports.tasks import imports_expire_drafts
from tests.imports.conftest import job_url, upload


def _draft(api, content="email\na@example.com\n", *, age_days=0):
    response = upload(api, content)
    assert response.status_code == 201, response.json()
    job_id = response.json()["id"]
    ImportJob.objects.unscoped().filter(pk=job_id).update(
        created_at=timezone.now() - dt.timedelta(days=age_days)
    )
    return job_id


def test_old_drafts_are_cancelled_and_their_uploads_deleted(
    api, client_for, other_tenant, settings, media, django_capture_on_commit_callbacks
):
    other_api = client_for(other_tenant)
    settings.IMPORT_DRAFT_RETENTION_SECONDS = 7 * 24 * 3600
    old = _draft(api, age_days=8)
    fresh = _draft(api, age_days=1)
    started = _draft(api, age_days=8)
    assert api.post(job_url(started, "start")).status_code == 200
    foreign = _draft(other_api, age_days=9)
    files = {pk: ImportJob.objects.unscoped().get(pk=pk).file for pk in (old, fresh, foreign)}
    assert all((media / name).exists() for name in files.values())

    with django_capture_on_commit_callbacks(execute=True):
        assert imports_expire_drafts() == 2

    body = api.get(job_url(old)).json()
    assert body["status"] == "cancelled"
    assert "Not started within 7 days" in body["error"]
    assert not (media / files[old]).exists()
    assert not (media / files[foreign]).exists()
    assert other_api.get(job_url(foreign)).json()["status"] == "cancelled"
    assert api.get(job_url(fresh)).json()["status"] == "draft"
    assert (media / files[fresh]).exists()
    assert api.get(job_url(started)).json()["status"] != "cancelled"
    # An expired draft cannot be started any more.
    assert api.post(job_url(old, "start")).status_code == 409


def test_zero_keeps_drafts(api, settings, media):
    settings.IMPORT_DRAFT_RETENTION_SECONDS = 0
    old = _draft(api, age_days=400)
    assert imports_expire_drafts() == 0
    assert api.get(job_url(old)).json()["status"] == "draft"

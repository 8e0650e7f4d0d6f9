import gzip

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from imports.services import import_process

IMPORTS = reverse("import-list")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    return tmp_path


def upload(api, content: str | bytes, *, name="contacts.csv", encoding="utf-8", gz=False):
    data = content.encode(encoding) if isinstance(content, str) else content
    if gz:
        data = gzip.compress(data)
    return api.post(
        IMPORTS, {"file": SimpleUploadedFile(name, data, content_type="text/csv")}, format="multipart"
    )


def job_url(job_id, action=None) -> str:
    if action:
        return reverse(f"import-{action}", kwargs={"pk": job_id})
    return reverse("import-detail", kwargs={"pk": job_id})


def run(api, job_id, **options):
    """Adjust options, start, and run the job's task (tests run tasks in-process)."""
    if options:
        response = api.patch(job_url(job_id), options, format="json")
        assert response.status_code == 200, response.json()
    response = api.post(job_url(job_id, "start"))
    assert response.status_code == 200, response.json()
    import_process(job_id)
    return api.get(job_url(job_id)).json()


@pytest.fixture
def export(api, django_capture_on_commit_callbacks):
    """export(filters=..., columns=..., ...) -> the job as GET /exports/{id}/ shows it after its task ran."""

    def make(client=None, **body):
        client = client or api
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("export-list"), body, format="json")
        assert response.status_code == 201, response.json()
        return client.get(reverse("export-detail", kwargs={"pk": response.json()["id"]})).json()

    return make

"""Two spellings PostgreSQL's lower() takes for one tag name, Python's lower() for two."""

import pytest
from django.urls import reverse

from tags.models import Tag, TagAssignment
from tests.imports.conftest import media, run, upload  # noqa: F401

CONTACTS = reverse("contact-list")


@pytest.mark.django_db
def test_import_row_with_two_spellings_of_one_tag(api, tenant):
    job = upload(api, "email,tags\nann@example.com,ΟΔΟΣ;οδοσ\n").json()
    result = run(api, job["id"], mapping={"email": "email", "tags": "tags"})
    assert result["status"] in ("completed", "completed_with_errors"), result
    assert Tag.objects.unscoped().filter(tenant=tenant).count() == 1
    assert TagAssignment.objects.unscoped().filter(tenant=tenant).count() == 1


@pytest.mark.django_db
def test_api_tagging_with_two_spellings_of_one_tag(api, tenant):
    contact = api.post(CONTACTS, {"email": "bob@example.com"}, format="json").json()
    r = api.post(
        reverse("contact-add-tags", kwargs={"pk": contact["id"]}), {"tags": ["ΟΔΟΣ", "οδοσ"]}, format="json"
    )
    assert r.status_code == 200, r.content
    assert TagAssignment.objects.unscoped().filter(tenant=tenant).count() == 1

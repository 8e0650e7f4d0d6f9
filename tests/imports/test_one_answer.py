"""One answer says everything (found by following the docs against a running service): a selection
or an export's filters name every problem at once, and an import's start answers what it did."""

import pytest
from django.urls import reverse

from imports.models import ExportJob
from tags.models import TagAssignment
from tests.imports.conftest import job_url, upload

BAD = {"bogus": "1", "status": "nope", "created_after": "yesterday"}
NAMED = ["bogus", "created_after", "status"]


@pytest.mark.django_db
def test_an_exports_filters_name_every_problem_at_once(api):
    """An unknown filter no longer hides what is wrong with the values of the known ones."""
    response = api.post(reverse("export-list"), {"filters": {**BAD, "ordering": "email"}}, format="json")
    assert response.status_code == 400, response.json()
    fields = sorted(e["field"] for e in response.json()["errors"])
    assert fields == sorted(f"filters.{name}" for name in [*NAMED, "ordering"])
    assert not ExportJob.objects.unscoped().exists()


@pytest.mark.django_db
def test_a_bulk_selections_filter_names_every_problem_at_once(api):
    tag = api.post(reverse("tag-list"), {"name": "VIP"}, format="json").json()
    response = api.post(reverse("tag-apply", kwargs={"pk": tag["id"]}), {"filter": BAD}, format="json")
    assert response.status_code == 400, response.json()
    assert sorted(e["field"] for e in response.json()["errors"]) == [f"filter.{name}" for name in NAMED]
    assert not TagAssignment.objects.unscoped().exists()


@pytest.mark.django_db(transaction=True)
def test_an_imports_start_answers_the_job_as_it_is_after_the_request(api):
    """With no broker (the embedded default, and these tests) the task runs when the start commits:
    the answer shows it completed (it said `queued` of an import already done)."""
    job = upload(api, "email\nann@example.com\n").json()
    started = api.post(job_url(job["id"], "start"))
    assert started.status_code == 200, started.json()
    assert (started.json()["status"], started.json()["created"]) == ("completed", 1)

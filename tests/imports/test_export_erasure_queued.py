"""An erasure and the exports queued or running when it commits (found by a bug hunt). Their filters
lose the contact's values as every export's do; a job that still needed them fails saying so, rather
than run with "[erased]" in their place (it exported nobody for a phone two contacts share, and failed
on `attribute: "[erased]"` when the contact's external id was a score's value). Asked again, the
export has what the user wants."""

from django.core.files.storage import default_storage

from imports.exports import export_process
from imports.models import ExportJob
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.imports.test_export import EXPORTS, detail_url, rows_of

FAILED_BY_ERASURE = "A contact its filters name was erased before it was written; export again."


def _erase(api, contact) -> None:
    assert api.post(f"/api/v1/contacts/{contact.pk}/erase/").status_code == 200


def test_a_queued_export_whose_filter_names_the_erased_contact_fails_and_a_new_one_exports_the_rest(
    api, tenant
):
    kept = ContactFactory(tenant=tenant, email="kept@example.com", phone="+33612345678")
    erased = ContactFactory(tenant=tenant, email="erased@example.com", phone="+33612345678")
    asked = {"filters": {"search": "+33612345678"}, "columns": ["email"]}
    queued = api.post(EXPORTS, asked, format="json").json()  # the task has not run yet

    _erase(api, erased)

    assert export_process(queued["id"]) == "nothing to do"
    job = api.get(detail_url(queued["id"])).json()
    assert (job["status"], job["error"], job["filters"]) == (
        "failed",
        FAILED_BY_ERASURE,
        {"search": "[erased]"},
    )
    again = api.post(EXPORTS, asked, format="json").json()
    assert export_process(again["id"]) == "completed"
    done = api.get(detail_url(again["id"])).json()
    assert [row[0] for row in rows_of(api, done)[1:]] == [kept.email]


def test_a_queued_export_that_does_not_name_the_erased_contact_runs_as_asked(api, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    ContactFactory(tenant=tenant, email="one@example.com", attributes={"score": 1})
    erased = ContactFactory(tenant=tenant, email="gone@example.com")
    queued = api.post(
        EXPORTS, {"filters": {"attribute": "score:1"}, "columns": ["email"]}, format="json"
    ).json()

    _erase(api, erased)

    assert export_process(queued["id"]) == "completed"
    job = api.get(detail_url(queued["id"])).json()
    assert job["filters"] == {"attribute": "score:1"}
    assert [row[0] for row in rows_of(api, job)[1:]] == ["one@example.com"]


def test_a_running_export_failed_by_an_erasure_does_not_complete_and_keeps_no_file(api, tenant, monkeypatch):
    """The erasure commits while the task writes: the task's completion finds the job failed, leaves
    it so and deletes the file it wrote."""
    from imports import exports

    ContactFactory(tenant=tenant, email="stay@example.com")
    erased = ContactFactory(tenant=tenant, email="leave@example.com")
    queued = api.post(EXPORTS, {"filters": {"email": "leave@example.com"}}, format="json").json()
    write = exports.export_write

    def write_then_erase(**kwargs):
        rows = write(**kwargs)
        monkeypatch.setattr(exports, "export_write", write)  # the rewrite after the erasure: plain
        _erase(api, erased)
        return rows

    monkeypatch.setattr(exports, "export_write", write_then_erase)

    assert export_process(queued["id"]) == "failed"
    job = ExportJob.objects.unscoped().get(pk=queued["id"])
    assert (job.status, job.error, job.file, job.filters) == (
        "failed",
        FAILED_BY_ERASURE,
        "",
        {"email": "[erased]"},
    )
    assert not default_storage.exists(f"exports/{tenant.pk}/{job.pk}.csv")

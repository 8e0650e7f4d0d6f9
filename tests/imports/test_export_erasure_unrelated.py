"""An erasure fails a queued export only when its filters select the erased contact (found by a review):
a filter that merely looks like one of its values (`score:1` beside an external id "1") runs as asked."""

from imports.exports import export_process
from imports.models import ExportJob
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.imports.test_export import EXPORTS


def test_an_erasure_of_an_unrelated_contact_does_not_fail_an_attribute_filtered_export(api, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    ContactFactory(tenant=tenant, email="one@example.com", attributes={"score": 1})
    erased = ContactFactory(tenant=tenant, email="gone@example.com", external_id="1")  # no score at all
    queued = api.post(EXPORTS, {"filters": {"attribute": "score:1"}, "columns": ["email"]}, format="json")
    assert queued.status_code == 201, queued.json()

    assert api.post(f"/api/v1/contacts/{erased.pk}/erase/").status_code == 200

    outcome = export_process(queued.json()["id"])
    job = ExportJob.objects.unscoped().get(pk=queued.json()["id"])
    assert (outcome, job.status, job.error, job.filters) == (
        "completed",
        "completed",
        "",
        {"attribute": "score:1"},
    )

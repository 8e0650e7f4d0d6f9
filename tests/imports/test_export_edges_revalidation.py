"""An export accepted with a filter whose subject goes before the task runs (a queue backlog, or the
stalled-export requeue): the contacts list now refuses that filter, so the job fails saying which
filter and why (as an import whose mapping stopped being valid), not with the generic "operators
find the reason in the worker log"."""

from imports.exports import export_process
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.imports.test_export import EXPORTS, detail_url


def test_an_attribute_filter_whose_definition_was_deleted_before_the_task_fails_naming_it(api, tenant):
    definition = AttributeDefinitionFactory(tenant=tenant, key="plan", type="string")
    ContactFactory(tenant=tenant, email="a@example.com")
    created = api.post(EXPORTS, {"filters": {"attribute": "plan:pro"}, "columns": ["email"]}, format="json")
    assert created.status_code == 201, created.json()  # accepted; the task has not run yet
    deleted = api.delete(f"/api/v1/attribute-definitions/{definition.pk}/")
    assert deleted.status_code == 204, deleted.content

    assert export_process(created.json()["id"]) == "failed"  # the queued task runs

    job = api.get(detail_url(created.json()["id"])).json()
    assert job["status"] == "failed" and job["download_url"] is None, job
    assert "filters.attribute" in job["error"] and "plan:pro" in job["error"], job["error"]
    assert "worker log" not in job["error"]

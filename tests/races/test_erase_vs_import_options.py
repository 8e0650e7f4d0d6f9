"""An erasure renames an import's header and mapping as it reads them once it holds the job: an
options change (PATCH mapping) committing meanwhile is kept (the mapping read before it was written
back over it). Found by a review."""

import threading

import pytest
from django.db import transaction

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from imports import services as import_services
from imports.models import ImportJob, ImportStatus
from tests.races.helpers import backend_pid, post, run_together, wait_until_blocked


@pytest.mark.django_db(transaction=True)
def test_erasure_keeps_a_mapping_change_committed_while_it_waited_for_the_job(client_for, tenant):
    with tenant_context(tenant):
        ann = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com"})
    # A file uploaded without a header row: its first row (Ann's) is the header.
    job = ImportJob.objects.unscoped().create(
        tenant=tenant, status=ImportStatus.DRAFT, file="x.csv", filename="x.csv", encoding="utf-8",
        delimiter=",", header=["ann@example.com", "Ann"], mapping={"ann@example.com": "", "Ann": ""},
    )  # fmt: skip
    client = client_for(tenant, Role.OWNER)
    updated = threading.Event()
    pids: dict = {}

    def patch_mapping():
        with tenant_context(tenant), transaction.atomic():
            import_services.import_update(
                tenant=tenant,
                job_id=job.pk,
                changes={"mapping": {"ann@example.com": "email", "Ann": "first_name"}},
            )
            updated.set()
            wait_until_blocked(pids, "erase")  # the erasure read the job, then waits for its row

    def erase():
        assert updated.wait(10)
        pids["erase"] = backend_pid()
        return post(client, f"/api/v1/contacts/{ann.pk}/erase/")

    results, errors = run_together(patch_mapping, erase)
    assert errors == [], errors
    assert results[1][0] == 200, results
    job = ImportJob.objects.unscoped().get(pk=job.pk)
    assert "ann@example.com" not in str(job.header) and "ann@example.com" not in str(job.mapping)
    # The user's mapping, committed before the erasure wrote, is kept under the renamed columns.
    assert job.mapping == {"Column 1": "email", "Column 2": "first_name"}, job.mapping

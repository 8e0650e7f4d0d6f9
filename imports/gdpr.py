"""What imports and exports keep of an erased contact (contacts.gdpr erasure steps).

An import's failed rows (errors.csv) are kept as uploaded, with no column naming a contact: the
rows holding one of the contact's emails, phones or its external id, or whose reasons name its id,
are deleted, and a header row that holds one (a file uploaded without a header) is renamed "Column 1",
"Column 2"... The uploads of finished imports go (later imports delete theirs when they finish).
The files of exports written before the erasure are deleted (and one written meanwhile is not served:
exports.export_open), and the filters exports were asked with lose the contact's values.
"""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from contacts.gdpr import ErasedKeys, erased_matcher, scrub_erased
from contacts_service.errors import ValidationFailed
from contacts_service.models import Tenant
from imports.models import FINAL_STATUSES, ExportJob, ExportStatus, ImportJob, ImportRowError
from imports.rows import unique_header

logger = logging.getLogger(__name__)


def import_traces_erase(tenant: Tenant, keys: ErasedKeys) -> None:
    contact_id, holds = str(keys.contact_id), erased_matcher(keys)
    doomed = []
    rows = ImportRowError.objects.for_tenant(tenant).values_list("pk", "row", "errors")
    for pk, cells, errors in rows.iterator(chunk_size=2000):
        held = any(isinstance(cell, str) and holds(cell) for cell in cells or ())
        if held or contact_id in str(errors):
            doomed.append(pk)
    for start in range(0, len(doomed), 5000):
        ImportRowError.objects.for_tenant(tenant).filter(pk__in=doomed[start : start + 5000]).delete()
    # A file uploaded without a header row: its first row, the job's header and its mapping's keys,
    # may be the contact's. Renamed as unique_header names an empty column: "Column 1", "Column 2"...,
    # as read once the job is locked (an options change committed meanwhile is kept).
    jobs = ImportJob.objects.for_tenant(tenant).filter(pk__in=import_headers_hold(tenant, [keys]))
    for job in jobs.only("pk", "header", "mapping"):
        if any(isinstance(cell, str) and holds(cell) for cell in job.header or ()):
            renamed = dict(zip(job.header, unique_header([""] * len(job.header)), strict=True))
            job.mapping = {
                renamed.get(column, column): target for column, target in (job.mapping or {}).items()
            }
            job.header = list(renamed.values())
            job.save(update_fields=["header", "mapping"])


def import_headers_hold(tenant: Tenant, reached: list[ErasedKeys]) -> list:
    """Lock (FOR UPDATE, in id order) the import jobs whose header holds one of these contacts' values;
    returns their ids. Called before the contacts are locked, as an import's batch locks its job, then
    the contacts it writes, and again by the step (a header can only be the upload's: none appears)."""
    matchers = [erased_matcher(keys) for keys in reached]
    jobs = ImportJob.objects.for_tenant(tenant).values_list("pk", "header")
    ids = [
        pk
        for pk, header in jobs.iterator(chunk_size=2000)
        if any(isinstance(cell, str) and holds(cell) for holds in matchers for cell in header or ())
    ]
    locked = ImportJob.objects.for_tenant(tenant).filter(pk__in=ids).order_by("pk").select_for_update()
    return list(locked.values_list("pk", flat=True))
    finished = ImportJob.objects.for_tenant(tenant).filter(status__in=FINAL_STATUSES).exclude(file="")
    for job_id, name in list(finished.values_list("pk", "file")):
        ImportJob.objects.for_tenant(tenant).filter(pk=job_id).update(file="")
        upload_discard(name)


def export_files_erase(tenant: Tenant, keys: ErasedKeys) -> None:
    """The files of the tenant's completed exports may hold the contact, and none is served after an
    erasure (exports.export_open): deleted now (once the erasure commits), not when someone next asks
    or EXPORT_FILE_RETENTION_SECONDS later; the job then shows no download link. An export still
    being written when the erasure commits sees the erasure count grow and writes again
    (exports.export_process)."""
    written = ExportJob.objects.for_tenant(tenant).filter(status=ExportStatus.COMPLETED).exclude(file="")
    for job_id, name in list(written.values_list("pk", "file")):
        ExportJob.objects.for_tenant(tenant).filter(pk=job_id).update(file="", file_size=0)
        upload_discard(name)


def export_filters_erase(tenant: Tenant, keys: ErasedKeys) -> None:
    """The filters an export was asked with (kept on its job) that name the contact: an email, phone,
    external id or search word of its becomes ERASED_VALUE. A job still queued or running whose filters
    select the contact (run before the contact's rows go) fails, saying so: it needs its filters as
    asked (a phone other contacts share), and "[erased]" in their place would have written other rows
    than asked. One whose filters only look like the contact's values (`score:1` beside an external id
    "1") does not select it and runs as asked. The jobs are locked in id order, so a job ending
    meanwhile (exports.export_finish) is either ended already or sees it failed."""
    holds = erased_matcher(keys)
    named = [
        job_id
        for job_id, filters in ExportJob.objects.for_tenant(tenant).values_list("pk", "filters")
        if scrub_erased(filters, holds)[1]
    ]
    jobs = ExportJob.objects.for_tenant(tenant).select_for_update().filter(pk__in=named).order_by("pk")
    for job in jobs.only("pk", "status", "filters"):
        changes: dict = {"filters": scrub_erased(job.filters, holds)[0]}
        if job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING):
            if not _selects(tenant, job.filters, keys.contact_id):
                continue
            changes.update(
                status=ExportStatus.FAILED,
                finished_at=timezone.now(),
                error="A contact its filters name was erased before it was written; export again.",
            )
        ExportJob.objects.for_tenant(tenant).filter(pk=job.pk).update(**changes)


def _selects(tenant: Tenant, filters: dict, contact_id) -> bool:
    from imports.exports import export_queryset

    try:
        return export_queryset(tenant=tenant, filters=filters).filter(pk=contact_id).exists()
    except ValidationFailed:  # no longer valid filters: the job fails on its own when it runs
        return False


def upload_discard(name: str) -> None:
    """Delete an upload once the transaction commits (nothing reads it after its job ends)."""

    def delete() -> None:
        try:
            default_storage.delete(name)
        except Exception:  # a storage blink: the file stays, nothing else fails
            logger.warning("could not delete the upload %s", name, exc_info=True)

    if name:
        transaction.on_commit(delete)

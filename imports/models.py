"""Import jobs: the uploaded file, the mapping and options, the checkpoint and the counters.

A job's counters and checkpoint are written in the transaction of each batch, so after a crash
they say exactly which rows are in the database: the task resumes after `checkpoint_row`.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from contacts_service.ids import new_id
from contacts_service.tenancy import TenantOwnedModel


class ImportStatus(models.TextChoices):
    DRAFT = "draft", "Uploaded, waiting for start"
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors", "Completed with errors"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (ImportStatus.QUEUED, ImportStatus.RUNNING)
FINAL_STATUSES = (
    ImportStatus.COMPLETED,
    ImportStatus.COMPLETED_WITH_ERRORS,
    ImportStatus.FAILED,
    ImportStatus.CANCELLED,
)


class DedupeKey(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    EXTERNAL_ID = "external_id", "External id"


class OnMatch(models.TextChoices):
    UPDATE = "update", "Update the contact"
    FILL_EMPTY = "fill_empty", "Fill empty fields only"
    SKIP = "skip", "Skip the row"


class ImportJob(TenantOwnedModel):
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    status = models.CharField(max_length=32, choices=ImportStatus.choices, default=ImportStatus.DRAFT)
    file = models.CharField(max_length=500)  # name in the default storage
    filename = models.CharField(max_length=255, blank=True)
    file_size = models.PositiveBigIntegerField(default=0)
    compressed = models.BooleanField(default=False)
    encoding = models.CharField(max_length=32)
    delimiter = models.CharField(max_length=1)
    header = models.JSONField(default=list)
    mapping = models.JSONField(default=dict)  # header name -> target ("email", "attributes.x", "tags", ...)
    dedupe_key = models.CharField(max_length=16, choices=DedupeKey.choices, default=DedupeKey.EMAIL)
    on_match = models.CharField(max_length=16, choices=OnMatch.choices, default=OnMatch.UPDATE)
    list_id = models.UUIDField(null=True, blank=True)
    tags = models.JSONField(default=list, blank=True)
    allow_erased = models.BooleanField(default=False)
    total_rows = models.PositiveIntegerField(default=0)
    checkpoint_row = models.PositiveIntegerField(default=0)  # data rows fully handled (committed)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    unchanged_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    actor = models.JSONField(default=dict)
    correlation_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # Seconds spent processing before the current run (a resumed job's rate ignores the downtime).
    elapsed_before = models.FloatField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "-created_at"], name="import_job_created_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="import_job_heartbeat_idx"),
        ]


class ImportRowError(TenantOwnedModel):
    """A row that was not imported, with its line number, the reasons and the row as it was."""

    id = models.BigAutoField(primary_key=True)
    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    line = models.PositiveIntegerField()
    errors = models.JSONField(default=list)  # [{"field": ..., "message": ...}]
    row = models.JSONField(default=list)

    class Meta:
        indexes = [models.Index(fields=["job", "line"], name="import_row_error_idx")]


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class ExportJob(TenantOwnedModel):
    """A CSV export of the contacts matching list filters: the request, then the file and its row count.

    The task writes the whole file again when it runs twice (a redelivered message), so a job never
    holds half a file."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    status = models.CharField(max_length=16, choices=ExportStatus.choices, default=ExportStatus.QUEUED)
    filters = models.JSONField(default=dict, blank=True)  # the contacts list's query parameters
    columns = models.JSONField(default=list)
    bom = models.BooleanField(default=False)
    delimiter = models.CharField(max_length=1, default=",")
    file = models.CharField(max_length=500, blank=True)  # name in the default storage
    file_size = models.PositiveBigIntegerField(default=0)
    # The tenant's erasure tombstones when the rows were read: more now, the file is not served.
    erasures_seen = models.PositiveIntegerField(null=True, blank=True)
    row_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    actor = models.JSONField(default=dict)
    correlation_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"], name="export_job_created_idx")]

import datetime as dt
from urllib.parse import urlencode

from django.urls import reverse
from django.utils import timezone
from rest_framework import serializers

from contacts_service.serializers import StrictInputSerializer
from imports.models import DedupeKey, ExportJob, ExportStatus, ImportJob, ImportStatus, OnMatch


class ImportJobSerializer(serializers.ModelSerializer):
    processed_rows = serializers.IntegerField(source="checkpoint_row", read_only=True)
    created = serializers.IntegerField(source="created_count", read_only=True)
    updated = serializers.IntegerField(source="updated_count", read_only=True)
    unchanged = serializers.IntegerField(source="unchanged_count", read_only=True)
    skipped = serializers.IntegerField(source="skipped_count", read_only=True)
    duplicates = serializers.IntegerField(source="duplicate_count", read_only=True)
    failed = serializers.IntegerField(source="failed_count", read_only=True)
    rows_per_second = serializers.SerializerMethodField()
    eta_seconds = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField(
        help_text="What must be fixed (mapping, list_id) before start."
    )
    preview = serializers.SerializerMethodField(
        help_text="While draft: the first 20 rows as they would be imported (create/update/skip/error)."
    )

    class Meta:
        model = ImportJob
        fields = [
            "id", "status", "filename", "file_size", "compressed", "encoding", "delimiter", "header",
            "mapping", "dedupe_key", "on_match", "list_id", "tags", "allow_erased", "total_rows",
            "processed_rows",
            "created", "updated", "unchanged", "skipped", "duplicates", "failed", "rows_per_second",
            "eta_seconds", "error", "cancel_requested", "created_at", "queued_at", "started_at",
            "finished_at",
            "problems", "preview",
        ]  # fmt: skip

    def get_rows_per_second(self, job: ImportJob) -> float | None:
        if not job.started_at or not job.checkpoint_row:
            return None
        seconds = job.elapsed_before or ((job.finished_at or timezone.now()) - job.started_at).total_seconds()
        return round(job.checkpoint_row / seconds, 1) if seconds > 0 else None

    def get_eta_seconds(self, job: ImportJob) -> int | None:
        rate = self.get_rows_per_second(job)
        if job.status != ImportStatus.RUNNING or not rate:
            return None
        return int((job.total_rows - job.checkpoint_row) / rate)

    def get_problems(self, job: ImportJob) -> list[dict]:
        from imports.services import job_problems

        return job_problems(job) if job.status == ImportStatus.DRAFT else []

    def get_preview(self, job: ImportJob) -> list[dict] | None:
        from imports.services import preview

        return preview(job) if job.status == ImportStatus.DRAFT and self.context.get("preview") else None


class ImportUploadSerializer(StrictInputSerializer):
    file = serializers.FileField(help_text="A CSV file, or a gzip of one.")


class ImportOptionsSerializer(StrictInputSerializer):
    mapping = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=100),
        required=False,
        help_text='Column -> target: email, first_name, ..., "attributes.<key>", "tags", or "" to ignore.',
    )
    dedupe_key = serializers.ChoiceField(choices=DedupeKey.choices, required=False)
    on_match = serializers.ChoiceField(choices=OnMatch.choices, required=False)
    list_id = serializers.UUIDField(
        required=False, allow_null=True, help_text="A static list to add every row to."
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=50,
        help_text="Tags for every row.",
    )
    allow_erased = serializers.BooleanField(required=False, help_text="Let erased (GDPR) contacts come back.")


class ExportCreateSerializer(StrictInputSerializer):
    filters = serializers.DictField(
        required=False,
        default=dict,
        help_text="Query parameters of GET /contacts/ (status, country, tags, tags_all, list, consent, "
        "search, created_after, ...): a string each, or a list of strings (status; joined by commas for "
        "country, tags, tags_all, consent).",
    )
    columns = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        allow_empty=False,
        max_length=200,
        help_text="In this order; default id, email, first_name, last_name, company, phone, country, "
        "city, status, external_id, created_at, updated_at, tags. Also display_name, source, "
        'last_activity_at, lists, "attributes.<key>".',
    )
    bom = serializers.BooleanField(default=False, help_text="Start the file with a UTF-8 BOM (for Excel).")
    delimiter = serializers.ChoiceField(choices=[",", ";", "\t", "|"], default=",")


class ExportJobSerializer(serializers.ModelSerializer):
    download_url = serializers.SerializerMethodField(
        help_text="When completed: a signed link, valid until expires_at, for a user of this tenant with "
        "contacts.export. Each read signs a new one."
    )
    expires_at = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id", "status", "filters", "columns", "bom", "delimiter", "row_count", "file_size", "error",
            "created_at", "started_at", "finished_at", "download_url", "expires_at",
        ]  # fmt: skip

    def _link(self, job: ExportJob) -> tuple[str, dt.datetime] | None:
        from imports.exports import export_link

        if job.status != ExportStatus.COMPLETED or not job.file:  # no file: pruned
            return None
        links = self.context.setdefault("export_links", {})
        if job.pk not in links:
            token, expires_at = export_link(job=job)
            path = f"{reverse('export-download', kwargs={'pk': job.pk})}?{urlencode({'token': token})}"
            request = self.context.get("request")
            links[job.pk] = (request.build_absolute_uri(path) if request else path, expires_at)
        return links[job.pk]

    def get_download_url(self, job: ExportJob) -> str | None:
        link = self._link(job)
        return link[0] if link else None

    def get_expires_at(self, job: ExportJob) -> dt.datetime | None:
        link = self._link(job)
        return link[1] if link else None

"""Import jobs API: upload, adjust, start, follow, cancel, download the failed rows; export jobs API:
create, follow, download the file."""

from __future__ import annotations

import csv
from collections.abc import Mapping

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from contacts_service.errors import ValidationFailed, flatten_errors
from contacts_service.parsers import JSONParser  # the project's: deep nesting, lone surrogates are 400s
from contacts_service.roles import Perm
from contacts_service.serializers import ErrorSerializer
from contacts_service.viewsets import TenantViewSet, holds_object_grant, parse_id
from imports import csvio, exports, services
from imports.models import ExportJob, ImportJob, ImportRowError
from imports.serializers import (
    ExportCreateSerializer,
    ExportJobSerializer,
    ImportJobSerializer,
    ImportOptionsSerializer,
    ImportUploadSerializer,
)


class _Echo:
    def write(self, value: str) -> str:
        return value


@extend_schema_view(
    list=extend_schema(summary="Import jobs, newest first"),
    retrieve=extend_schema(summary="An import job: status, counters, rows/s, ETA (and preview while draft)"),
    create=extend_schema(
        summary="Upload a CSV (or gzip of one): detects encoding, delimiter, header; suggests a mapping",
        request={"multipart/form-data": ImportUploadSerializer},
        responses={201: ImportJobSerializer},
    ),
    partial_update=extend_schema(
        summary="Adjust mapping and options before start", request=ImportOptionsSerializer,
        responses=ImportJobSerializer,
    ),
)  # fmt: skip
class ImportJobViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantViewSet
):
    queryset = ImportJob.objects.none()
    serializer_class = ImportJobSerializer
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "patch", "head", "options"]
    bodyless_actions = frozenset({"start", "cancel"})
    permission_map = {
        "list": Perm.CONTACTS_IMPORT,
        "retrieve": Perm.CONTACTS_IMPORT,
        "create": Perm.CONTACTS_IMPORT,
        "partial_update": Perm.CONTACTS_IMPORT,
        "start": Perm.CONTACTS_IMPORT,
        "cancel": Perm.CONTACTS_IMPORT,
        "errors_csv": Perm.CONTACTS_IMPORT,
    }
    # Charged to the plan's `expensive` rate limit too (contacts_service.throttling).
    expensive_actions = frozenset({"create", "start"})

    def get_tenant_queryset(self, tenant):
        return ImportJob.objects.for_tenant(tenant).order_by("-created_at")

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "preview": self.action != "list"}

    def get_parsers(self):
        # Options are a JSON object (mapping is an object no form encoding holds): a form PATCH is a
        # 415, where it was a 200 that dropped the mapping. The upload alone is multipart.
        if getattr(getattr(self, "request", None), "method", "") == "PATCH":
            return [JSONParser()]
        return super().get_parsers()

    def create(self, request: Request, *args, **kwargs) -> Response:
        if not isinstance(request.data, Mapping):  # a JSON array, string or number
            raise ValidationFailed(
                [{"field": "file", "code": "required", "message": "Send the CSV as multipart field 'file'."}]
            )
        unknown = sorted(set(request.data.keys()) - {"file"})
        if unknown:  # as every body: options go in PATCH /imports/{id}/, never silently dropped here
            raise serializers.ValidationError({name: ["Unknown or read-only field."] for name in unknown})
        upload = request.FILES.get("file")
        if upload is None:
            raise ValidationFailed(
                [{"field": "file", "code": "required", "message": "Send the CSV as multipart field 'file'."}]
            )
        job = services.import_create(tenant=self.tenant, actor=self.actor, upload=upload)
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        job = self.get_object()
        payload = ImportOptionsSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        self._check_list(request, payload.validated_data.get("list_id"))
        job = services.import_update(tenant=self.tenant, job_id=job.pk, changes=dict(payload.validated_data))
        return Response(self.get_serializer(job).data)

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        if self.action == "start":
            # The list is checked again by whoever starts the import: it may have been unshared since
            # the PATCH, or another member starts the draft. Here, with the role's permissions, so a
            # refusal is not charged to the rate limits (the throttles run after this).
            list_id = (
                ImportJob.objects.for_tenant(self.tenant)
                .filter(pk=parse_id(self.kwargs["pk"]))
                .values_list("list_id", flat=True)
                .first()
            )
            self._check_list(request, list_id)

    def _check_list(self, request: Request, list_id) -> None:
        if list_id and not self._may_fill_list(request, list_id):
            # contacts.import alone would add members to any static list: a way around lists.manage
            raise PermissionDenied(
                f"Your role ({request.tenant_access.role}) lacks the permission {Perm.LISTS_MANAGE}, "
                "needed to import into a list (or the list shared with you)."
            )

    def _may_fill_list(self, request: Request, list_id) -> bool:
        """lists.manage, or the list shared with this user (the object grant that lets them add
        members through the lists API); an unknown list is the service's 400."""
        from lists.models import ContactList
        from lists.services import MANAGE_LIST

        if Perm.LISTS_MANAGE in request.tenant_access.permissions:
            return True
        contact_list = ContactList.objects.for_tenant(self.tenant).filter(pk=list_id).first()
        return contact_list is None or holds_object_grant(request.user, contact_list, MANAGE_LIST)

    @extend_schema(summary="Queue the import", request=None, responses=ImportJobSerializer)
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str) -> Response:
        job = self.get_object()  # its list was checked with the permissions (check_permissions)
        job = services.import_start(tenant=self.tenant, job_id=job.pk)
        job.refresh_from_db()  # with Celery eager (no broker: the embedded default) it has run already
        return Response(self.get_serializer(job).data)

    @extend_schema(summary="Cancel: a running import stops after its current batch", request=None,
                   responses=ImportJobSerializer)  # fmt: skip
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        job = services.import_cancel(tenant=self.tenant, job_id=self.get_object().pk)
        return Response(self.get_serializer(job).data)

    @extend_schema(
        summary="The rows that failed: line, reasons, then the row as it was",
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.STR)},
    )
    def errors_csv(self, request: Request, pk: str) -> StreamingHttpResponse:
        job = self.get_object()
        rows = ImportRowError.objects.for_tenant(self.tenant).filter(job=job).order_by("line", "id")
        writer = csv.writer(_Echo())

        def lines():
            # Every cell from the file, its header included, neutralised against formula injection.
            yield writer.writerow(["line", "errors", *[csvio.neutralise(c) for c in job.header]])
            for error in rows.iterator(chunk_size=2000):
                reasons = "; ".join(f"{e['field']}: {e['message']}" for e in error.errors)
                yield writer.writerow(
                    [error.line, csvio.neutralise(reasons), *[csvio.neutralise(c) for c in error.row]]
                )

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response


@extend_schema_view(
    list=extend_schema(summary="Export jobs, newest first"),
    retrieve=extend_schema(summary="An export job: status, row count and, once completed, a download link"),
    create=extend_schema(
        summary="Export the contacts matching list filters to CSV (written by a background task)",
        request=ExportCreateSerializer,
        responses={
            201: ExportJobSerializer,
            400: OpenApiResponse(
                ErrorSerializer, description="errors[].field names the filter (filters.<name>) or column."
            ),
        },
    ),
)
class ExportJobViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin, TenantViewSet
):
    queryset = ExportJob.objects.none()
    serializer_class = ExportJobSerializer
    http_method_names = ["get", "post", "head", "options"]
    permission_map = {
        "list": Perm.CONTACTS_EXPORT,
        "retrieve": Perm.CONTACTS_EXPORT,
        "create": Perm.CONTACTS_EXPORT,
        "download": Perm.CONTACTS_EXPORT,
    }
    expensive_actions = frozenset({"create"})  # the plan's `expensive` rate limit too

    def get_tenant_queryset(self, tenant):
        return ExportJob.objects.for_tenant(tenant).order_by("-created_at", "-id")

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = ExportCreateSerializer(data=request.data)
        if not payload.is_valid():
            # One 400 names every problem: the filters and columns are checked too when they are well
            # formed (a bad delimiter hid an unknown filter until the next try).
            problems = flatten_errors(payload.errors)
            if isinstance(request.data, Mapping):
                rest = ExportCreateSerializer(
                    data={k: v for k, v in request.data.items() if k in ("filters", "columns")}
                )
                if rest.is_valid():
                    filters, columns = rest.validated_data["filters"], rest.validated_data.get("columns")
                    problems += exports.export_problems(self.tenant, filters=filters, columns=columns)[1]
            raise ValidationFailed(problems, message="Invalid export.")
        job = exports.export_create(tenant=self.tenant, actor=self.actor, **payload.validated_data)
        job.refresh_from_db()  # with Celery eager (no broker) the task has run already
        return Response(self.get_serializer(job).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="The export's CSV file, with the token of its download_url",
        parameters=[OpenApiParameter("token", str, required=True, description="From download_url.")],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY),
            400: OpenApiResponse(
                ErrorSerializer, description="Code `invalid_token`: tampered or not for this export."
            ),
            409: OpenApiResponse(
                ErrorSerializer, description="Code `not_ready`: the export is not completed."
            ),
            410: OpenApiResponse(
                ErrorSerializer, description="Code `token_expired` (get a new link) or `file_gone`."
            ),
        },
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def download(self, request: Request, pk: str) -> FileResponse:
        job, handle = exports.export_open(
            tenant=self.tenant, job_id=parse_id(pk), token=request.query_params.get("token", "")
        )
        return FileResponse(
            handle,
            as_attachment=True,
            filename=f"contacts-{job.created_at:%Y%m%d-%H%M%S}.csv",
            content_type="text/csv; charset=utf-8",
        )

"""CSV exports of contacts: a job from list filters and columns, the file written by a task, and
signed download links that expire.

The task reads the matching contacts in creation order, CHUNK_SIZE at a time, by (created_at, id)
range (keyset). On PostgreSQL each chunk is one COPY (SELECT ...) TO STDOUT that also
joins the chunk's tags and lists and neutralises formula cells, so rows go from the database to the
file without Python touching a cell; elsewhere the same bytes are built in Python with one query
for the chunk's contacts, one for their tags and one for their lists. Memory holds one chunk.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime as dt
import io
import json
import logging
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

import psycopg
from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from contacts.filters import filter_selection
from contacts.models import AttributeDefinition, Contact, ErasureTombstone
from contacts_service.context import Actor, get_correlation_id, tenant_context
from contacts_service.errors import Conflict, NotFound, ServiceError, ValidationFailed
from contacts_service.models import Tenant
from contacts_service.queueing import delay_on_commit
from imports import csvio
from imports.models import ExportJob, ExportStatus

logger = logging.getLogger(__name__)

CHUNK_SIZE = 5000
ORDER = ("created_at", "id")  # creation order, and the keyset of the chunks
LINK_SALT = "exports.download"
LOCK_CLASS = 0x45585054  # "EXPT": the first key of the exports' advisory locks
TEXT_COLUMNS = (
    "email", "first_name", "last_name", "display_name", "company", "phone", "country", "city", "status",
    "source", "external_id",
)  # fmt: skip
TIME_COLUMNS = ("created_at", "updated_at", "last_activity_at")
NAME_COLUMNS = ("tags", "lists")  # the names of a contact's tags (lists), sorted, in one cell
COLUMNS = ("id", *TEXT_COLUMNS, *TIME_COLUMNS, *NAME_COLUMNS)
DEFAULT_COLUMNS = [
    "id", "email", "first_name", "last_name", "company", "phone", "country", "city", "status",
    "external_id", "created_at", "updated_at", "tags",
]  # fmt: skip
ATTRIBUTE_PREFIX = "attributes."
NAME_SEPARATOR = "; "
# Filters whose value is comma-separated: a JSON list is joined. `status` repeats instead.


class LinkInvalid(ServiceError):
    status_code = 400
    code = "invalid_token"


class LinkExpired(ServiceError):
    status_code = 410
    code = "token_expired"


class FileGone(ServiceError):
    status_code = 410
    code = "file_gone"


# -- request ----------------------------------------------------------------------------------------


def export_queryset(*, tenant: Tenant, filters: dict[str, Any]) -> QuerySet[Contact]:
    """The tenant's live contacts the filters select, exactly as the contacts list would; a filter
    the list would refuse is a ValidationFailed naming `filters.<name>` (every one at once)."""
    problems = []
    if "ordering" in filters:
        message = "Exports come in creation order; ordering does not apply."
        problems.append({"field": "filters.ordering", "code": "unknown", "message": message})
    live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)
    with tenant_context(tenant):  # tag, list and consent lookups of the filters are tenant-scoped
        wanted = {k: v for k, v in filters.items() if k != "ordering"}
        return filter_selection(live, wanted, prefix="filters", problems=problems).order_by(*ORDER)


def _column_problems(tenant: Tenant, columns: list[str]) -> list[dict[str, str]]:
    if not columns:
        return [{"field": "columns", "code": "empty", "message": "Choose at least one column."}]
    keys: set[str] | None = None
    problems = []
    for index, column in enumerate(columns):
        field = f"columns.{index}"
        if columns.index(column) != index:
            problems.append({"field": field, "code": "duplicate", "message": f"{column!r} is listed twice."})
        elif column.startswith(ATTRIBUTE_PREFIX):
            if keys is None:
                keys = set(AttributeDefinition.objects.for_tenant(tenant).values_list("key", flat=True))
            if column.removeprefix(ATTRIBUTE_PREFIX) not in keys:
                problems.append(
                    {
                        "field": field,
                        "code": "unknown",
                        "message": f"No custom attribute is defined as {column!r}.",
                    }
                )
        elif column not in COLUMNS:
            problems.append(
                {
                    "field": field,
                    "code": "unknown",
                    "message": f"Unknown column {column!r}; use {', '.join(COLUMNS)} or attributes.<key>.",
                }
            )
    return problems


class TooManyRows(ServiceError):
    status_code = 400
    code = "too_many_rows"


def _check_row_limit(queryset: QuerySet[Contact]) -> None:
    """Refuse, when the export is asked for, filters matching more than EXPORT_MAX_ROWS contacts (a
    count that stops one row past the limit). Contacts created between this check and the task's
    run are exported too."""
    limit = settings.EXPORT_MAX_ROWS
    if queryset.order_by()[: limit + 1].count() > limit:
        raise TooManyRows(
            f"The filters match more than {limit} contacts, the most one export may hold (EXPORT_MAX_ROWS); "
            "narrow them, e.g. split by created_after / created_before.",
            field="filters",
            limit=limit,
        )


def export_problems(
    tenant: Tenant, *, filters: dict[str, Any], columns: list[str] | None = None
) -> tuple[QuerySet | None, list[dict[str, str]]]:
    """The contacts the filters select (None when they are wrong) and what is wrong with the filters
    and the columns, each named ([{field, code, message}])."""
    problems: list[dict[str, str]] = []
    queryset = None
    try:
        queryset = export_queryset(tenant=tenant, filters=filters)
    except ValidationFailed as exc:
        problems.extend(exc.errors)
    problems.extend(_column_problems(tenant, list(DEFAULT_COLUMNS if columns is None else columns)))
    return queryset, problems


def export_create(
    *,
    tenant: Tenant,
    actor: Actor,
    filters: dict[str, Any],
    columns: list[str] | None = None,
    bom: bool = False,
    delimiter: str = ",",
) -> ExportJob:
    """Check the filters and columns (bad input is a 400 now, never a failed job later), save the job
    and queue its task after commit."""
    from imports.tasks import export_run

    columns = list(DEFAULT_COLUMNS if columns is None else columns)
    problems = []
    if delimiter not in csvio.DELIMITERS:
        problems.append({"field": "delimiter", "code": "invalid", "message": "One of , ; tab |."})
    queryset, found = export_problems(tenant, filters=filters, columns=columns)
    problems.extend(found)
    if problems:
        raise ValidationFailed(problems, message="Invalid export.")
    _check_row_limit(queryset)
    with transaction.atomic():
        job = ExportJob.objects.for_tenant(tenant).create(
            tenant=tenant,
            filters=filters,
            columns=columns,
            bom=bom,
            delimiter=delimiter,
            actor=actor.as_dict(),
            correlation_id=get_correlation_id(),
        )
        job_id = str(job.pk)
        delay_on_commit(export_run, job_id)  # broker down: queued, re-queued by the stall check
    return job


# -- writing the file -------------------------------------------------------------------------------


def export_write(
    *,
    tenant: Tenant,
    filters: dict[str, Any],
    columns: list[str],
    out: IO[bytes],
    delimiter: str = ",",
    bom: bool = False,
    use_copy: bool | None = None,
) -> int:
    """Write the CSV (UTF-8, a header, one line per contact in creation order) to `out`; returns the
    number of contact rows written. `use_copy` (default: on PostgreSQL) picks COPY over the portable
    writer; both write the same bytes."""
    if use_copy is None:
        use_copy = connection.vendor == "postgresql"
    queryset = export_queryset(tenant=tenant, filters=filters)
    if bom:
        out.write(codecs.BOM_UTF8)
    out.write(_csv_line([csvio.neutralise(c) for c in columns], delimiter).encode())
    written = 0
    with tenant_context(tenant):
        copy = _CopyChunk(tenant, columns, delimiter) if use_copy else None
        for chunk in _chunks(queryset):
            if copy is not None:
                written += copy.write(chunk, out)
            else:
                rows = list(chunk.values(*_fields(columns)))
                written += _write_rows(tenant, columns, delimiter, rows, out)
    return written


def _chunks(queryset: QuerySet[Contact]) -> Iterator[QuerySet[Contact]]:
    """The contacts cut into ranges of CHUNK_SIZE by (created_at, id), a keyset: one query finds the
    ranges, then each is one scan of the (tenant, created_at) index. Timestamps, unlike UUIDs, give
    the planner true row estimates for a range (a UUID range inside one histogram bucket counts as
    one row, and a plan built for one row joins 5,000 rows quadratically). Contacts created after
    the first query are not exported."""
    try:
        sql, params = queryset.order_by().values(*ORDER).query.sql_with_params()
    except EmptyResultSet:  # a filter that matches nothing, e.g. all of several tags when one is unknown
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT created_at, id FROM (SELECT created_at, id, row_number() OVER w AS n, "  # noqa: S608
            f"lead(id) OVER w AS next FROM ({sql}) AS f WINDOW w AS (ORDER BY created_at, id)) AS s "
            "WHERE n %% %s = 0 OR next IS NULL ORDER BY created_at, id",
            [*params, CHUNK_SIZE],
        )
        bounds = [(_aware(created_at), pk) for created_at, pk in cursor.fetchall()]
    lower = None
    for upper in bounds:
        # The plain created_at bounds are what the index scan uses; the pairs are exact.
        chunk = queryset.filter(
            Q(created_at__lt=upper[0]) | Q(created_at=upper[0], id__lte=upper[1]), created_at__lte=upper[0]
        )
        if lower is not None:
            chunk = chunk.filter(
                Q(created_at__gt=lower[0]) | Q(created_at=lower[0], id__gt=lower[1]), created_at__gte=lower[0]
            )
        yield chunk
        lower = upper


def _aware(value):
    """A bound read back by the raw query: SQLite hands a created_at back as its stored text (UTC,
    naive), which a filter would read as a naive time (a RuntimeWarning each export)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, dt.UTC)
    return value


def _fields(columns: list[str]) -> list[str]:
    """The contact fields the columns are made of."""
    fields = [*ORDER, *[c for c in columns if c in TEXT_COLUMNS or (c in TIME_COLUMNS and c not in ORDER)]]
    return [*fields, "attributes"] if any(c.startswith(ATTRIBUTE_PREFIX) for c in columns) else fields


def _csv_line(cells: list[str], delimiter: str) -> str:
    """One CSV line as PostgreSQL's COPY (FORMAT csv) writes it: a cell quoted when it holds the
    delimiter, a quote, \n or \r (the csv module leaves a lone \r bare with "\n" line ends, which
    splits the row for a reader), or when it is a whole one-column line: empty (not a blank line) or
    \\. (COPY's end marker)."""
    quoted = [
        '"' + cell.replace('"', '""') + '"'
        if any(c in cell for c in (delimiter, '"', "\n", "\r")) or (len(cells) == 1 and cell in ("", "\\."))
        else cell
        for cell in cells
    ]
    return delimiter.join(quoted) + "\n"


class _CopyChunk:
    """COPY (SELECT <the columns> ...) TO STDOUT of one chunk's contacts with their tags and lists, in
    CSV as the portable writer writes it: empty cells unquoted, times in UTC to the second."""

    ROWS = "<rows>"

    def __init__(self, tenant: Tenant, columns: list[str], delimiter: str):
        self.fields = _fields(columns)
        select, joins = [], []
        params: dict[str, Any] = {"tenant": tenant.pk, "delimiter": delimiter}
        for index, column in enumerate(columns):
            if column == "id":
                select.append("c.id::text")
            elif column in TEXT_COLUMNS:
                select.append(csvio.cell_sql(f'c."{column}"'))
            elif column in TIME_COLUMNS:
                # The text of a timestamp in DateStyle ISO (which psycopg needs anyway): 2026-01-31 09:05:00
                select.append(f"date_trunc('second', c.\"{column}\" AT TIME ZONE 'UTC')::text")
            elif column in NAME_COLUMNS:
                select.append(csvio.cell_sql(f"{column}.names"))
                joins.append(self._names_join(column))
            else:
                params[f"key{index}"] = column.removeprefix(ATTRIBUTE_PREFIX)
                select.append(csvio.cell_sql(f"(c.attributes ->> %(key{index})s)"))
        if len(select) == 1:  # a line of one empty cell is "" (as the csv module writes it), not blank
            select = [f"COALESCE({select[0]}, '')"]
        # Names and expressions come from the models and the checked columns; values are bound.
        template = (
            f"COPY (SELECT {', '.join(select)} FROM ({self.ROWS}) AS c {' '.join(joins)} "  # noqa: S608
            "ORDER BY c.created_at, c.id) TO STDOUT WITH (FORMAT csv, DELIMITER %(delimiter)s)"
        )
        self.template = self._bind(template, params)

    @staticmethod
    def _bind(sql: str, params) -> str:
        # COPY takes no bound parameters: psycopg binds them client-side, as it does for queries.
        connection.ensure_connection()
        return psycopg.ClientCursor(connection.connection).mogrify(sql, params)

    @staticmethod
    def _names_join(column: str) -> str:
        from lists.models import ContactList, ListMembership
        from tags.models import Tag, TagAssignment

        link, named, key = (
            (TagAssignment, Tag, "tag_id")
            if column == "tags"
            else (ListMembership, ContactList, "contact_list_id")
        )
        # Per contact, one probe of the contact foreign key's index: linear whatever the planner
        # estimates (a join planned for the few rows it guessed rescans 5,000 rows 5,000 times), and
        # the contacts keep their index order, so rows stream out while the next ones are read.
        # lower() COLLATE "C": code point order of the database's lower-cased names, as the portable
        # writer sorts the same lower(name) values.
        return (
            f"LEFT JOIN LATERAL (SELECT string_agg(n.name, '{NAME_SEPARATOR}' "  # noqa: S608
            f'ORDER BY lower(n.name) COLLATE "C", n.name COLLATE "C") AS names '
            f"FROM {link._meta.db_table} l JOIN {named._meta.db_table} n ON n.id = l.{key} "
            f"WHERE l.tenant_id = %(tenant)s AND l.contact_id = c.id) AS {column} ON true"
        )

    def write(self, chunk: QuerySet[Contact], out: IO[bytes]) -> int:
        # The chunk's query goes in as a subquery, not a CTE: the planner then knows its ids are
        # unique and estimates the joins right (a CTE's 200 distinct values made 5,000 rows look
        # like a million, enough to JIT-compile every chunk for a second).
        rows = self._bind(*chunk.values(*self.fields).query.sql_with_params())
        with transaction.atomic(), connection.cursor() as cursor:
            # JIT compiling (when the estimated cost passes jit_above_cost, as a chunk with tags and
            # lists does) takes longer than running the statement.
            cursor.execute("SET LOCAL jit = off")
            with cursor.copy(self.template.replace(self.ROWS, rows)) as copy:
                out.write(b"".join(copy))  # one row a block: a chunk is about a megabyte
            return cursor.rowcount


def _names(model, tenant: Tenant, ids: list[uuid.UUID], name: str) -> dict[uuid.UUID, str]:
    """Each contact's names joined, ordered by the database's lower(name) as the COPY writer orders
    them (Python's str.lower differs on a few letters: "İ", a final sigma)."""
    names: dict[uuid.UUID, list[tuple[str, str]]] = defaultdict(list)
    for contact_id, key, value in (
        model.objects.for_tenant(tenant)
        .filter(contact_id__in=ids)
        .values_list("contact_id", Lower(name), name)
    ):
        names[contact_id].append((key, value))
    return {k: NAME_SEPARATOR.join(value for _, value in sorted(v)) for k, v in names.items()}


def number_text(value: float) -> str:
    """A float as PostgreSQL writes a jsonb number: 1e-07 is 0.0000001, 1e+20 is 100000000000000000000."""
    return format(Decimal(repr(value)), "f")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return csvio.neutralise(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).replace(microsecond=0, tzinfo=None).isoformat(sep=" ")
    if isinstance(value, float):
        return csvio.neutralise(number_text(value))
    return csvio.neutralise(json.dumps(value, ensure_ascii=False))  # an attribute's int, boolean, ...


def _write_rows(tenant: Tenant, columns: list[str], delimiter: str, rows: list[dict], out: IO[bytes]) -> int:
    """The portable writer: one chunk of contacts, with one query for their tags and one for lists."""
    from lists.models import ListMembership
    from tags.models import TagAssignment

    ids = [row["id"] for row in rows]
    linked = {}
    if "tags" in columns:
        linked["tags"] = _names(TagAssignment, tenant, ids, "tag__name")
    if "lists" in columns:
        linked["lists"] = _names(ListMembership, tenant, ids, "contact_list__name")
    buffer = io.StringIO()
    for row in rows:
        cells = []
        for column in columns:
            if column == "id":
                cells.append(str(row["id"]))
            elif column in linked:
                cells.append(csvio.neutralise(linked[column].get(row["id"], "")))
            elif column.startswith(ATTRIBUTE_PREFIX):
                cells.append(_cell((row["attributes"] or {}).get(column.removeprefix(ATTRIBUTE_PREFIX))))
            else:
                cells.append(_cell(row[column]))
        buffer.write(_csv_line(cells, delimiter))
    out.write(buffer.getvalue().encode())
    return len(rows)


# -- the task ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _job_lock(job_id: uuid.UUID) -> Iterator[bool]:
    """One run of a job at a time (a duplicated message waits for nothing: it sees False)."""
    if connection.vendor != "postgresql":
        yield True
        return
    key = [LOCK_CLASS, int.from_bytes(job_id.bytes[-4:], "big", signed=True)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        acquired = cursor.fetchone()[0]
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


EXPORT_ERASURE_RETRIES = 2  # writes again after an erasure raced it, then fails


def export_process(job_id: uuid.UUID | str) -> str:
    """Write a queued (or interrupted) job's file from the start into the default storage and record
    its row count and size. Safe to run twice: a second run at once returns, a later one rewrites."""
    job = ExportJob.objects.unscoped().select_related("tenant").filter(pk=job_id).first()
    if job is None or job.status not in (ExportStatus.QUEUED, ExportStatus.RUNNING):
        return "nothing to do"
    with _job_lock(job.pk) as acquired:
        if not acquired:
            return "running elsewhere"
        active = (ExportStatus.QUEUED, ExportStatus.RUNNING)
        jobs = ExportJob.objects.unscoped().filter(pk=job.pk, status__in=active)
        # Read again under the lock, in the update: a redelivered message may have waited for a run that
        # finished, an erasure may have failed the job since it was read (imports.gdpr). Its filters are
        # read again with it.
        if not jobs.update(status=ExportStatus.RUNNING, started_at=timezone.now(), error=""):
            return "nothing to do"
        job.filters = ExportJob.objects.unscoped().values_list("filters", flat=True).get(pk=job.pk)
        name = f"exports/{job.tenant_id}/{job.pk}.csv"
        try:
            with tenant_context(job.tenant, correlation_id=job.correlation_id or None):
                for _attempt in range(EXPORT_ERASURE_RETRIES + 1):
                    erasures = _erasures(job.tenant_id)  # before the rows: see _erased_since
                    with tempfile.TemporaryFile() as spool:
                        rows = export_write(
                            tenant=job.tenant,
                            filters=job.filters,
                            columns=job.columns,
                            out=spool,
                            delimiter=job.delimiter,
                            bom=job.bom,
                        )
                        # An erasure committed while the rows were read: they may hold the contact, and
                        # the erasure did not see this job (not completed yet). Written again.
                        if _erasures(job.tenant_id) != erasures:
                            logger.info("Export %s: a contact was erased while it was written; again", job.pk)
                            continue
                        size = spool.tell()
                        spool.seek(0)
                        default_storage.delete(name)  # a rerun replaces the file of an interrupted run
                        name = default_storage.save(name, File(spool, name=f"{job.pk}.csv"))
                        break
                else:
                    return export_finish(
                        job,
                        status=ExportStatus.FAILED,
                        finished_at=timezone.now(),
                        error="Contacts were erased each time it was being written; export again.",
                    )
        except ValidationFailed as exc:
            # Checked when it was asked; since then a filter's subject went (an attribute definition,
            # a consent purpose deleted): the job fails saying which, as an import whose mapping
            # stopped being valid does.
            reasons = "; ".join(f"{e['field']}: {e['message']}" for e in exc.errors)[:900]
            logger.warning("Export %s failed: its filters are no longer valid: %s", job.pk, reasons)
            return export_finish(
                job,
                status=ExportStatus.FAILED,
                finished_at=timezone.now(),
                error=f"Its filters stopped being valid after it was asked ({reasons}); export again.",
            )
        except Exception:
            logger.exception("Export %s failed", job.pk)
            return export_finish(
                job,
                status=ExportStatus.FAILED,
                finished_at=timezone.now(),
                error="The file could not be written; operators find the reason in the worker log "
                f"(correlation id {job.correlation_id or '-'}).",
            )
        # An erasure committing between the check above and this completion is still caught at
        # download (_erased_since: 410, and the file goes).
        return export_finish(
            job,
            status=ExportStatus.COMPLETED,
            file=name,
            file_size=size,
            row_count=rows,
            finished_at=timezone.now(),
            erasures_seen=erasures,
        )


def export_finish(job: ExportJob, **fields) -> str:
    """End a running job (completed or failed), unless an erasure failed it meanwhile (imports.gdpr:
    its filters named the erased contact): then the file written, if any, is deleted. The row is
    locked, so an erasure committing at the same time either sees the job ended or ends it first.
    Returns the job's status."""
    with transaction.atomic():
        rows = ExportJob.objects.unscoped().select_for_update()
        status = rows.values_list("status", flat=True).get(pk=job.pk)
        if status != ExportStatus.RUNNING:
            if fields.get("file"):
                default_storage.delete(fields["file"])
            return status
        ExportJob.objects.unscoped().filter(pk=job.pk).update(**fields)
    return fields["status"]


def exports_requeue_stalled() -> int:
    """Exports nobody is writing although they should be: queued longer than EXPORT_STALL_SECONDS
    (the message was lost: broker restarted, purged) or running while no worker holds the job's
    lock (the worker was killed and the message is not coming back soon). Each is queued again at
    most once per EXPORT_STALL_SECONDS; a run that finds the job done or held returns at once."""
    from imports.tasks import export_run

    stale = timezone.now() - dt.timedelta(seconds=settings.EXPORT_STALL_SECONDS)
    candidates = ExportJob.objects.unscoped().filter(
        Q(status=ExportStatus.QUEUED, created_at__lt=stale)
        | Q(status=ExportStatus.RUNNING, started_at__lt=stale)
    )
    queued = 0
    for job in candidates.only("pk", "status")[:1000]:
        with _job_lock(job.pk) as free:
            if not free:
                continue  # a worker is writing it
        if not cache.add(f"exports:requeued:{job.pk}", 1, timeout=settings.EXPORT_STALL_SECONDS):
            continue  # queued again lately: give that message its time
        logger.warning("export %s: %s and not being written, queued again", job.pk, job.status)
        export_run.delay(str(job.pk))
        queued += 1
    return queued


def exports_prune() -> int:
    """Delete the files of exports finished more than EXPORT_FILE_RETENTION_SECONDS ago (the job
    stays, its download a 410 `file_gone`); returns how many files went."""
    before = timezone.now() - dt.timedelta(seconds=settings.EXPORT_FILE_RETENTION_SECONDS)
    pruned = 0
    for job in ExportJob.objects.unscoped().filter(finished_at__lt=before).exclude(file="")[:1000]:
        default_storage.delete(job.file)
        ExportJob.objects.unscoped().filter(pk=job.pk).update(file="", file_size=0)
        pruned += 1
    return pruned


# -- download links ---------------------------------------------------------------------------------


def export_link(*, job: ExportJob) -> tuple[str, dt.datetime]:
    """A token for downloading this completed export, and when it stops working."""
    signed_at = int(time.time())  # the signer's own timestamp is this second or a later one
    token = signing.TimestampSigner(salt=LINK_SALT).sign_object({"t": str(job.tenant_id), "e": str(job.pk)})
    return token, dt.datetime.fromtimestamp(signed_at + settings.EXPORT_LINK_MAX_AGE, tz=dt.UTC)


def _erasures(tenant_id) -> int:
    """The tenant's tombstone rows so far: a count that only grows (one or more per erasure)."""
    return ErasureTombstone.objects.unscoped().filter(tenant_id=tenant_id).count()


def _erased_since(job: ExportJob) -> bool:
    """Whether a contact of the tenant was erased after the export began reading its rows: the file
    may hold it, and an erasure removes all of the contact (the file is not served again). The
    count is read before the rows, so an erasure it saw is not in them."""
    if job.erasures_seen is None:  # written before exports kept the count
        tombstones = ErasureTombstone.objects.unscoped().filter(tenant_id=job.tenant_id)
        return tombstones.filter(erased_at__gt=job.created_at).exists()
    return _erasures(job.tenant_id) > job.erasures_seen


def export_open(*, tenant: Tenant, job_id: uuid.UUID, token: str) -> tuple[ExportJob, File]:
    """The job and its file, for a token signed for this tenant's export that has not expired."""
    job = ExportJob.objects.for_tenant(tenant).filter(pk=job_id).first()
    if job is None:
        raise NotFound("Export not found.")
    try:
        value = signing.TimestampSigner(salt=LINK_SALT).unsign_object(
            token, max_age=settings.EXPORT_LINK_MAX_AGE
        )
    except signing.SignatureExpired as exc:
        raise LinkExpired("This download link has expired; get a new one from GET /exports/{id}/.") from exc
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise LinkInvalid("This download link is not valid.", field="token") from exc
    if not isinstance(value, dict) or (value.get("t"), value.get("e")) != (str(tenant.pk), str(job.pk)):
        raise LinkInvalid("This download link is for another export.", field="token")
    if job.status != ExportStatus.COMPLETED:
        raise Conflict(f"The export is {job.status}.", code="not_ready")
    if not job.file:
        raise FileGone("The export's file is no longer kept (EXPORT_FILE_RETENTION_SECONDS); export again.")
    if _erased_since(job):
        default_storage.delete(job.file)
        ExportJob.objects.for_tenant(tenant).filter(pk=job.pk).update(file="", file_size=0)
        raise FileGone("A contact was erased since this export was written (GDPR): export again.")
    try:
        return job, default_storage.open(job.file, "rb")
    except FileNotFoundError as exc:
        raise FileGone("The export's file is no longer kept; export again.") from exc

"""Import jobs: upload (detect, scan, suggest), options, start, cancel, and the batch pipeline.

A batch is planned (parse, dedupe in the batch, match existing contacts, tombstones, uniqueness)
then applied set-based in one transaction with the job's checkpoint and counters: bulk INSERT of
new contacts, one UPDATE of changed ones, one history row per changed contact, tag and list links,
and every event (contact.created/updated, tagged, added_to_list) in two INSERTs through
event_record_many. The preview of an upload runs the same plan without writing.
"""

from __future__ import annotations

import csv
import datetime as dt
import logging
import time
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, InterfaceError, InternalError, OperationalError, connection, transaction
from django.utils import timezone

from consent.bulk import Statement, consent_plan, consent_write
from consent.services import purpose_keys
from contacts.gdpr import erased_values
from contacts.models import AttributeDefinition, ChangeSource, Contact, ContactChange
from contacts.services.attributes import definitions_hold
from contacts.services.contacts import _apply_display_name
from contacts.services.duplicates import duplicates_recompute_later
from contacts.services.recording import PUBLIC_FIELDS, TITLES, contact_snapshot
from contacts_service.bulk import bulk_insert, bulk_insert_values, bulk_update
from contacts_service.context import Actor, get_correlation_id, tenant_context
from contacts_service.errors import Conflict, NotFound, ServiceError, ValidationFailed
from contacts_service.ids import new_id
from contacts_service.models import Tenant
from contacts_service.names import db_name_keys
from contacts_service.queueing import delay_on_commit
from events.services import EventSpec, event_record, event_record_many
from imports import csvio
from imports.gdpr import upload_discard
from imports.models import ACTIVE_STATUSES, ImportJob, ImportRowError, ImportStatus, OnMatch
from imports.rows import ParsedRow, RowParser, mapping_problems, suggest_mapping, unique_header

logger = logging.getLogger(__name__)
BATCH_SIZE = 500
HISTORY_COLUMNS = (
    "id",
    "tenant_id",
    "contact_id",
    "event_id",
    "changes",
    "actor",
    "source",
    "correlation_id",
    "changed_at",
)
PREVIEW_ROWS = 20


class FileRejected(ServiceError):
    def __init__(self, exc: csvio.ImportFileError):
        super().__init__(exc.message, field="file", code=exc.code)
        self.status_code = exc.status


# -- upload -----------------------------------------------------------------------------------------


def _scan(name: str, detected: csvio.Detected) -> tuple[list[str], int]:
    """Read the whole file once, streaming: header, number of data rows, CSV well-formedness."""
    reader, text = csvio.open_rows(
        name, compressed=detected.compressed, encoding=detected.encoding, delimiter=detected.delimiter
    )
    total = 0
    try:
        with text:
            header = reader.header()
            if header is None:
                raise csvio.ImportFileError("The file is empty.", code="empty_file")
            if len(header) > settings.IMPORT_MAX_COLUMNS:
                raise csvio.ImportFileError(
                    f"{len(header)} columns; at most {settings.IMPORT_MAX_COLUMNS} (IMPORT_MAX_COLUMNS).",
                    code="too_many_columns",
                )
            csvio.check_text(header)
            for row in reader:
                if not row or not any(cell.strip() for cell in row):
                    continue
                total += 1
                if total > settings.IMPORT_MAX_ROWS:
                    raise csvio.ImportFileError(
                        f"More than {settings.IMPORT_MAX_ROWS} rows (IMPORT_MAX_ROWS); split the file.",
                        code="too_many_rows",
                    )
                if total <= 1000:
                    csvio.check_text(row)
    except csv.Error as exc:
        problem = str(exc)
        if "field larger than field limit" in problem:
            problem = "a field is larger than 2 MB (an unmatched quote?)"
        raise csvio.ImportFileError(f"Line {reader.line_num}: {problem}.", code="malformed_csv") from exc
    except UnicodeDecodeError as exc:
        raise csvio.ImportFileError(f"Not {detected.encoding} text: {exc.reason}.", code="encoding") from exc
    except (OSError, EOFError, zlib.error) as exc:  # gzip damaged past the part detect() read
        if not detected.compressed:
            raise
        raise csvio.ImportFileError("The gzip file is damaged or truncated.") from exc
    if total == 0:
        raise csvio.ImportFileError("The file has a header but no rows.", code="no_rows")
    return unique_header(header), total


def _detect_and_scan(name: str) -> tuple[csvio.Detected, list[str], int]:
    detected = csvio.detect(name)
    try:
        return detected, *_scan(name, detected)
    except csvio.ImportFileError as exc:
        if exc.code != "encoding" or detected.encoding != "utf-8":
            raise
        # UTF-8 at the start, something else later: read as the legacy encoding, which reads any byte
        detected.encoding = csvio.LEGACY_ENCODING
        return detected, *_scan(name, detected)


def import_create(*, tenant: Tenant, actor: Actor, upload) -> ImportJob:
    if upload.size > settings.IMPORT_MAX_FILE_BYTES:
        raise FileRejected(
            csvio.ImportFileError(
                f"The file is {upload.size} bytes; the limit is {settings.IMPORT_MAX_FILE_BYTES} bytes "
                "(IMPORT_MAX_FILE_BYTES).",
                code="too_large",
                status=413,
            )
        )
    job_id = new_id()
    name = default_storage.save(f"imports/{tenant.pk}/{job_id}.upload", upload)
    try:
        detected, header, total = _detect_and_scan(name)
    except csvio.ImportFileError as exc:
        default_storage.delete(name)
        raise FileRejected(exc) from exc
    except BaseException:  # no job will name the upload: it must not stay behind
        default_storage.delete(name)
        raise
    keys = list(AttributeDefinition.objects.for_tenant(tenant).values_list("key", flat=True))
    mapping = suggest_mapping(header, keys, set(purpose_keys(tenant=tenant)))
    targets = set(mapping.values())
    dedupe_key = next((k for k in ("email", "external_id", "phone") if k in targets), "email")
    return ImportJob.objects.for_tenant(tenant).create(
        id=job_id,
        tenant=tenant,
        file=name,
        filename=(upload.name or "")[:255],
        file_size=upload.size,
        compressed=detected.compressed,
        encoding=detected.encoding,
        delimiter=detected.delimiter,
        header=header,
        mapping=mapping,
        dedupe_key=dedupe_key,
        total_rows=total,
        actor=actor.as_dict(),
        correlation_id=get_correlation_id(),
    )


def _definitions(tenant: Tenant) -> dict[str, AttributeDefinition]:
    return {d.key: d for d in AttributeDefinition.objects.for_tenant(tenant)}


def job_problems(job: ImportJob) -> list[dict[str, str]]:
    problems = mapping_problems(
        job.mapping,
        job.header,
        _definitions(job.tenant),
        job.dedupe_key,
        set(purpose_keys(tenant=job.tenant)),
    )
    if job.list_id:  # chosen when it was a static list; a draft does not hold it (deleted since?)
        problems += _list_problems(job.tenant, job.list_id)
    return problems


def _list_problems(tenant: Tenant, list_id: uuid.UUID) -> list[dict[str, str]]:
    """Why the rows cannot be added to list `list_id`, if they cannot."""
    from lists.models import ContactList, ListKind

    kind = ContactList.objects.for_tenant(tenant).filter(pk=list_id).values_list("kind", flat=True).first()
    if kind is None:
        return [{"field": "list_id", "code": "not_found", "message": "No such list (deleted?)."}]
    if kind != ListKind.STATIC:
        return [{"field": "list_id", "code": "dynamic",
                 "message": "Import into a static list; dynamic lists follow their rules."}]  # fmt: skip
    return []


OPTION_FIELDS = ("mapping", "dedupe_key", "on_match", "list_id", "tags", "allow_erased")


@transaction.atomic
def import_update(*, tenant: Tenant, job_id: uuid.UUID, changes: dict[str, Any]) -> ImportJob:
    job = ImportJob.objects.for_tenant(tenant).select_for_update().filter(pk=job_id).first()
    if job is None:
        raise NotFound("Import not found.")
    if job.status != ImportStatus.DRAFT:
        raise Conflict(
            f"The import is {job.status}: options can change only before it starts.", code="started"
        )
    if "mapping" in changes:
        # Columns left out keep their suggestion; "" ignores a column.
        changes["mapping"] = {**job.mapping, **changes["mapping"]}
    if changes.get("list_id") and (problems := _list_problems(tenant, changes["list_id"])):
        raise ValidationFailed(problems)
    if "tags" in changes:
        from tags.services import _clean_name

        cleaned = [_clean_name(t, field=f"tags.{i}") for i, t in enumerate(changes["tags"])]
        by_key: dict[str, str] = {}
        # One spelling of a name, as the tags API takes "VIP" and "vip" for one tag (the database's lower()).
        for name, key in zip(cleaned, db_name_keys(cleaned), strict=True):
            by_key.setdefault(key, name)
        changes["tags"] = list(by_key.values())
    for name in OPTION_FIELDS:
        if name in changes:
            setattr(job, name, changes[name])
    problems = job_problems(job)
    if problems and ("mapping" in changes or "dedupe_key" in changes):
        raise ValidationFailed(problems, message="Invalid mapping.")
    job.save()
    return job


@transaction.atomic
def import_start(*, tenant: Tenant, job_id: uuid.UUID) -> ImportJob:
    job = ImportJob.objects.for_tenant(tenant).select_for_update().filter(pk=job_id).first()
    if job is None:
        raise NotFound("Import not found.")
    if job.status != ImportStatus.DRAFT:
        raise Conflict(f"The import is {job.status} already.", code="started")
    problems = job_problems(job)
    if problems:
        raise ValidationFailed(problems, message="Fix the options before starting.")
    if job.list_id:  # held until queued: a deletion meanwhile waits, then sees the job (409 in_use)
        from contacts.services.links import target_lock
        from lists.models import ContactList
        from lists.services import _target

        try:
            target_lock(_target(ContactList.objects.for_tenant(tenant).get(pk=job.list_id)))
        except (NotFound, ContactList.DoesNotExist):
            raise ValidationFailed(_list_problems(tenant, job.list_id)) from None
    # A choice removed meanwhile: the removal waits for this start and then sees the job under way
    # (refused), or this start waits for the removal and the task reads the choices left.
    mapped = [
        t.removeprefix("attributes.") for t in job.mapping.values() if t and t.startswith("attributes.")
    ]
    definitions_hold(_definitions(tenant), mapped)
    now = timezone.now()
    job.status, job.queued_at, job.heartbeat_at = ImportStatus.QUEUED, now, now
    # The task's events carry the id of the request that queued it (docs/events.md), not the upload's.
    job.correlation_id = get_correlation_id() or job.correlation_id
    job.save(update_fields=["status", "queued_at", "heartbeat_at", "correlation_id"])
    _enqueue(job)
    return job


def _enqueue(job: ImportJob) -> None:
    from imports.tasks import import_run

    job_id = str(job.pk)
    delay_on_commit(import_run, job_id)  # broker down: queued, re-queued by the stall check


@transaction.atomic
def import_cancel(*, tenant: Tenant, job_id: uuid.UUID) -> ImportJob:
    job = ImportJob.objects.for_tenant(tenant).select_for_update().filter(pk=job_id).first()
    if job is None:
        raise NotFound("Import not found.")
    # A running job that is abandoned (tasks in-process, no batch for IMPORT_STALL_SECONDS: the process
    # that ran it stopped, and nothing will read a cancel flag) is cancelled at once too.
    if job.status == ImportStatus.RUNNING and _abandoned(job):
        _end(
            job,
            ImportStatus.CANCELLED,
            error="Cancelled after its process stopped mid-import; the rows before it are imported.",
        )
        return job
    if job.status in (ImportStatus.DRAFT, ImportStatus.QUEUED):  # nothing imported: no event
        job.status, job.finished_at = ImportStatus.CANCELLED, timezone.now()
        upload_discard(job.file)
        job.file = ""
    elif job.status == ImportStatus.RUNNING:
        job.cancel_requested = True  # the task stops after its current batch
    else:
        raise Conflict(f"The import is {job.status}: nothing to cancel.", code="finished")
    job.save(update_fields=["status", "finished_at", "cancel_requested", "file", "error"])
    return job


def _abandoned(job: ImportJob) -> bool:
    """A running job no process will go on with: tasks run in-process (no worker, no beat to queue it
    again) and its heartbeat is older than IMPORT_STALL_SECONDS."""
    stale = timezone.now() - dt.timedelta(seconds=settings.IMPORT_STALL_SECONDS)
    return settings.TASKS_WITHOUT_WORKER and (job.heartbeat_at is None or job.heartbeat_at < stale)


# -- planning a batch ---------------------------------------------------------------------------------


@dataclass
class RowPlan:
    row: ParsedRow
    action: str  # create | update | unchanged | skip | duplicate | error
    contact: Contact | None = None
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    reason: str = ""
    # An unchanged row whose display_name column holds the derived name: kept as set from now on.
    display_name_set: bool = False


@dataclass
class Plan:
    rows: list[RowPlan]

    def counts(self) -> Counter:
        return Counter(r.action for r in self.rows)


def _empty(value: Any) -> bool:
    return value in (None, "", {})


def parse_batch(parser: RowParser, raw_rows: list[tuple[int, list[str]]]) -> list[ParsedRow]:
    return [parser.parse(line, raw) for line, raw in raw_rows]


# The batch's contacts are looked up one value at a time (a LATERAL join over the array of values), not
# with `column IN (values)`: for IN, the planner may scan the tenant's whole part of the unique index and
# filter, taking the tenant for the few rows its statistics knew before the import grew it. Seen at
# 95,000 contacts into a 1M-row import: 22 ms a batch, then 48 ms and growing (113 ms at 225,000), where
# one probe per value takes well under 1 ms whatever the statistics say. OFFSET 0 keeps the subquery a
# subquery: flattened into a join, the planner merge-joined the sorted values with the tenant's part of
# the index all the same (312 ms for 500 external ids at 1M contacts; 5 ms with it). Other databases:
# plain IN.
_LOOKUP_COLUMNS = ("email", "phone", "external_id")


def _found_sql(column: str) -> str:
    """(id, value) of the tenant's live contacts whose `column` is one of the array's values."""
    if column not in _LOOKUP_COLUMNS:  # pasted into SQL below: only these names
        raise ValueError(column)
    return (
        f"SELECT c.id, c.v FROM unnest(%s::text[]) AS k(v) CROSS JOIN LATERAL ("  # noqa: S608
        f"SELECT x.id, x.{column} AS v FROM contacts_contact x "
        f"WHERE x.tenant_id = %s AND x.deleted_at IS NULL AND x.{column} = k.v OFFSET 0) c"
    )


def _live_ids_by(tenant: Tenant, column: str, values) -> list[tuple[uuid.UUID, str]]:
    """(id, value) of the tenant's live contacts whose `column` is one of `values`."""
    if connection.vendor != "postgresql":
        live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)
        return list(live.filter(**{f"{column}__in": values}).values_list("id", column))
    with connection.cursor() as cursor:
        cursor.execute(_found_sql(column), [list(values), tenant.pk])
        return cursor.fetchall()


def _live_contacts_by(tenant: Tenant, column: str, values, *, lock: bool) -> list[Contact]:
    """The tenant's live contacts whose `column` is one of `values`, oldest first (row-locked if `lock`,
    in that order, as every import locks them: two imports sharing contacts cannot deadlock on them)."""
    if connection.vendor != "postgresql":
        query = Contact.objects.for_tenant(tenant).filter(
            deleted_at__isnull=True, **{f"{column}__in": values}
        )
        query = query.order_by("created_at", "id")
        return list(query.select_for_update() if lock else query)
    # Found without a lock, then read (and locked) by primary key in the sorted order: a lock taken inside
    # the lookup would follow the file's order. A contact deleted, or whose value changed, while this
    # waited for its lock is left out (FOR UPDATE reads the row as it is now). No tenant condition in
    # the second query: the ids are this tenant's, and a tenant condition would offer the planner the
    # tenant's rows again; checked below instead.
    ids = [contact_id for contact_id, _ in _live_ids_by(tenant, column, values)]
    if not ids:
        return []
    query = (
        Contact.objects.unscoped().filter(pk__in=ids, deleted_at__isnull=True).order_by("created_at", "id")
    )
    wanted = set(values)
    return [
        c
        for c in (query.select_for_update() if lock else query)
        if c.tenant_id == tenant.pk and getattr(c, column) in wanted
    ]


def _left_as_is(job: ImportJob, contact: Contact | None, field_name: str) -> bool:
    """Whether the row leaves this field of its matched contact as it is (fill_empty, a value there)."""
    filled = contact is not None and not _empty(getattr(contact, field_name))
    return filled and job.on_match == OnMatch.FILL_EMPTY


def _held_elsewhere(job: ImportJob, row: ParsedRow, contact: Contact | None, holders: dict) -> tuple | None:
    """(field, message) when the row would write an email or external_id another contact holds."""
    for unique in ("email", "external_id"):
        wanted = row.values.get(unique)
        if not wanted:
            continue
        if _left_as_is(job, contact, unique):
            continue
        holder = holders.get((unique, wanted))
        if holder is not None and (contact is None or holder != contact.pk):
            return unique, f"Another contact ({holder}) has this {unique}."
    return None


def plan_batch(
    job: ImportJob,
    raw_rows: list[tuple[int, list[str]]],
    *,
    lock: bool,
    parser: RowParser,
    parsed: list[ParsedRow] | None = None,
) -> Plan:
    """What each row of a batch does. `parsed`: the rows already parsed (by the job loop's read-ahead);
    planning marks rows with errors, so a batch planned twice must be parsed again."""
    tenant = job.tenant
    if parsed is None:
        parsed = parse_batch(parser, raw_rows)
    plans: list[RowPlan] = []
    key = job.dedupe_key
    # Rows whose only fault is a national phone number with no country cell: read in the country of
    # the contact they match, as PATCH /contacts/{id}/ reads it.
    national = [
        row
        for row in parsed
        if row.national_phone and row.values.get(key) and all(e["field"] == "phone" for e in row.errors)
    ]
    keys = list(
        dict.fromkeys(
            row.values[key] for row in parsed if (not row.errors or row in national) and row.values.get(key)
        )
    )
    matches: dict[str, Contact] = {}
    holders = {}
    if keys:
        for contact in _live_contacts_by(tenant, key, keys, lock=lock):
            matches.setdefault(getattr(contact, key), contact)
            if key in ("email", "external_id"):  # the holders of these values: no second lookup
                holders[(key, getattr(contact, key))] = contact.pk
    for row in national:
        contact = matches.get(row.values[key])
        if contact is not None:
            row.read_phone_in(contact.country)
    valid = [r for r in parsed if not r.errors]
    emails = {r.values["email"] for r in valid if r.values.get("email")}
    external_ids = {r.values["external_id"] for r in valid if r.values.get("external_id")}
    for unique, wanted in (("email", emails), ("external_id", external_ids)):
        if wanted and unique != key:  # one indexed lookup per column (an OR of the two may scan the table)
            for contact_id, value in _live_ids_by(tenant, unique, wanted):
                holders[(unique, value)] = contact_id
    erased = (
        set()
        if job.allow_erased
        else erased_values(
            tenant, emails=list(emails), phones=[r.values["phone"] for r in valid if r.values.get("phone")]
        )
    )
    required = [d.key for d in parser.definitions.values() if d.required]
    # Rows that fail whatever the batch's other rows say (a required attribute missing on create, a value
    # another contact holds) fail before the last row of each key is chosen: a later row that fails
    # must not make an earlier good one a `duplicate` (which imported neither).
    for row in parsed:
        value = row.values.get(key)
        contact = matches.get(value) if value and not row.errors else None
        if row.errors or (contact is not None and job.on_match == OnMatch.SKIP):
            continue
        if _erased_comeback(row, contact, erased):
            continue  # skipped below, not failed
        if contact is None:
            for name in required:  # as POST /contacts/: required attributes are given on create
                if name not in row.attributes:
                    row.error(f"attributes.{name}", "This attribute is required to create a contact.")
        conflict = _held_elsewhere(job, row, contact, holders)
        if conflict:
            row.error(*conflict)
    last_index = _claims_settled(job, parsed, matches, erased)
    now = timezone.now()
    for index, row in enumerate(parsed):
        if row.errors:
            plans.append(RowPlan(row=row, action="error"))
            continue
        value = row.values.get(key)
        if value and last_index[value] != index:
            plans.append(RowPlan(row=row, action="duplicate", reason=f"A later row has the same {key}."))
            continue
        contact = matches.get(value) if value else None
        if _erased_comeback(row, contact, erased):
            plans.append(
                RowPlan(row=row, action="skip", reason="Erased contact (GDPR); allow_erased brings it back.")
            )
            continue
        if contact is not None and job.on_match == OnMatch.SKIP:
            plans.append(
                RowPlan(row=row, action="skip", contact=contact, reason=f"A contact has this {key}.")
            )
            continue
        if contact is None:
            contact = Contact(
                id=new_id(),
                tenant=tenant,
                created_at=now,
                updated_at=now,
                event_sequence=0,
                source=ChangeSource.IMPORT,
            )
            for name, new in row.values.items():
                setattr(contact, name, new)
            contact.display_name_custom = bool(row.values.get("display_name"))
            contact.attributes = dict(row.attributes)
            _display_name(contact)
            changes = {
                f: (None, getattr(contact, f)) for f in PUBLIC_FIELDS if not _empty(getattr(contact, f))
            }
            plans.append(RowPlan(row=row, action="create", contact=contact, changes=changes))
            continue
        before = {f: getattr(contact, f) for f in PUBLIC_FIELDS}
        was_set = contact.display_name_custom
        fill = job.on_match == OnMatch.FILL_EMPTY
        for name, new in row.values.items():
            if not fill or _empty(getattr(contact, name)):
                setattr(contact, name, new)
                if name == "display_name":
                    contact.display_name_custom = True
        attributes = dict(contact.attributes or {})
        for name, new in row.attributes.items():
            if not fill or name not in attributes:
                attributes[name] = new
        contact.attributes = attributes
        _display_name(contact)
        changes = {
            f: (before[f], getattr(contact, f)) for f in PUBLIC_FIELDS if before[f] != getattr(contact, f)
        }
        plans.append(
            RowPlan(
                row=row,
                action="update" if changes else "unchanged",
                contact=contact,
                changes=changes,
                display_name_set=contact.display_name_custom and not was_set,
            )
        )
    return Plan(rows=plans)


def _erased_comeback(row: ParsedRow, contact: Contact | None, erased: set) -> bool:
    """Whether the row would create a contact an erasure's tombstone names (skipped; `erased` is empty
    when the job allows them back)."""
    return contact is None and (row.values.get("email") in erased or row.values.get("phone") in erased)


def _claims_settled(job: ImportJob, parsed: list[ParsedRow], matches: dict, erased: set) -> dict[str, int]:
    """Fail the rows that would write an email or external_id an earlier applied row of the batch (of
    another key) writes, and return the index of the row applied for each key: its last good row.

    A last row failing so makes the row before it of its key the one applied, which may conflict in
    turn: settled by repeating until no row fails any more (so a failing row never makes an earlier
    good one of its key a `duplicate`, which imported neither). A row failed on a value that, once
    settled, no applied row writes (its claimer failed later) is tried again (a few rounds)."""
    key = job.dedupe_key

    def writes(index: int) -> list[tuple[str, str]]:
        row = parsed[index]
        value = row.values.get(key)
        contact = matches.get(value) if value else None
        if _erased_comeback(row, contact, erased):
            return []  # skipped: writes nothing
        if contact is not None and job.on_match == OnMatch.SKIP:
            return []
        return [
            (unique, row.values[unique])
            for unique in ("email", "external_id")
            if row.values.get(unique) and not _left_as_is(job, contact, unique)
        ]

    def settle(failed: set[int]) -> tuple[dict[str, int], dict[tuple[str, str], int]]:
        while True:
            last: dict[str, int] = {}
            for index, row in enumerate(parsed):
                if not row.errors and index not in failed and row.values.get(key):
                    last[row.values[key]] = index
            claimed: dict[tuple[str, str], int] = {}
            conflicts = set()
            for index, row in enumerate(parsed):
                value = row.values.get(key)
                if row.errors or index in failed or (value and last[value] != index):
                    continue
                values = writes(index)
                if any(v in claimed for v in values):  # a failing row claims none of its values
                    conflicts.add(index)
                    continue
                claimed.update(dict.fromkeys(values, index))
            if not conflicts:
                return last, claimed
            failed |= conflicts

    def blocker(index: int, claimed: dict) -> tuple[str, int] | None:
        """(field, index) of an applied row of another key writing one of this row's values."""
        own = parsed[index].values.get(key)
        for unique, value in writes(index):
            first = claimed.get((unique, value))
            if first is not None and (not own or parsed[first].values.get(key) != own):
                return unique, first
        return None

    failed: set[int] = set()
    last, claimed = settle(failed)
    for _ in range(5):
        unjustified = {index for index in failed if blocker(index, claimed) is None}
        if not unjustified:
            break
        failed -= unjustified
        last, claimed = settle(failed)
    for index in sorted(failed):
        found = blocker(index, claimed)
        unique = found[0] if found else writes(index)[0][0]
        where = f" (line {parsed[found[1]].line})" if found else ""  # none: not settled within the rounds
        parsed[index].error(unique, f"Another row of this batch{where} has this {unique}.")
    return last


def _display_name(contact: Contact) -> None:
    _apply_display_name(contact, {})  # derived from the other fields unless a caller set it


# -- applying a batch ---------------------------------------------------------------------------------


def _link_events(*, job: ImportJob, plans: list[RowPlan], actor: Actor) -> tuple[list, list, list]:
    """Tag assignments and list memberships the batch adds (only links that do not exist yet), and
    the (contact, event type, data, title) of each, in the order they happen."""
    from lists.models import ContactList, ListMembership
    from lists.services import _target as _list_target
    from tags.models import TagAssignment
    from tags.services import _target as tag_target
    from tags.services import tags_by_name

    tenant = job.tenant
    linked = [p for p in plans if p.action in ("create", "update", "unchanged")]
    names = list(dict.fromkeys([*job.tags, *(t for p in linked for t in p.row.tags)]))
    tags = tags_by_name(tenant=tenant, names=names) if names and linked else {}
    existing_ids = [p.contact.pk for p in linked if p.action != "create"]
    have_tags = (
        _existing_links(TagAssignment, "tag_id", tenant, existing_ids, [t.pk for t in tags.values()])
        if existing_ids and tags
        else set()
    )
    contact_list = (
        ContactList.objects.for_tenant(tenant).filter(pk=job.list_id).first() if job.list_id else None
    )
    list_target = _list_target(contact_list) if contact_list is not None else None
    in_list = (
        {
            c
            for c, _ in _existing_links(
                ListMembership, "contact_list_id", tenant, existing_ids, [contact_list.pk]
            )
        }
        if contact_list and existing_ids
        else set()
    )
    now, by = timezone.now(), actor.as_dict()
    assignments, memberships, events = [], [], []
    for plan in linked:
        contact = plan.contact
        for tag in {tags[n].pk: tags[n] for n in [*job.tags, *plan.row.tags]}.values():
            if (contact.pk, tag.pk) in have_tags:
                continue
            have_tags.add((contact.pk, tag.pk))
            assignments.append(
                TagAssignment(tenant=tenant, tag=tag, contact_id=contact.pk, added_at=now, added_by=by)
            )
            target = tag_target(tag)
            events.append((contact, target.linked_event, target.data, target.title_linked))
        if contact_list is not None and contact.pk not in in_list:
            in_list.add(contact.pk)
            memberships.append(
                ListMembership(
                    tenant=tenant, contact_list=contact_list, contact_id=contact.pk, added_at=now, added_by=by
                )
            )
            events.append((contact, list_target.linked_event, list_target.data, list_target.title_linked))
    return assignments, memberships, events


def _existing_links(model, column: str, tenant: Tenant, contact_ids, target_ids) -> set[tuple]:
    """(contact_id, target id) of the tag assignments or list memberships (`model`, its `column`) linking
    these contacts to these targets. Probed contact by contact on PostgreSQL, as _found_sql does: with
    `contact_id IN (...)` the planner may read every link of a tag or list the statistics do not know
    yet (one the import itself is filling: 300,000 assignments read for 50 contacts, 77 ms a batch)."""
    if connection.vendor != "postgresql":
        links = model.objects.for_tenant(tenant).filter(
            contact_id__in=contact_ids, **{f"{column}__in": target_ids}
        )
        return set(links.values_list("contact_id", column))
    table = model._meta.db_table  # names from the model, never from input
    sql = (
        f"SELECT l.contact_id, l.{column} FROM unnest(%s::uuid[]) AS c(id) CROSS JOIN LATERAL ("  # noqa: S608
        f"SELECT contact_id, {column} FROM {table} t "
        f"WHERE t.contact_id = c.id AND t.tenant_id = %s AND t.{column} = ANY(%s::uuid[]) OFFSET 0) l"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(contact_ids), tenant.pk, list(target_ids)])
        return set(cursor.fetchall())


def apply_batch(job: ImportJob, plan: Plan, actor: Actor) -> list[uuid.UUID]:
    """Write a planned batch set-based; returns the ids of contacts that changed in any way."""
    from lists.models import ListMembership
    from tags.models import TagAssignment

    tenant = job.tenant
    source = ChangeSource.IMPORT
    specs: list[EventSpec] = []
    history: list[tuple] = []
    actor_dict = actor.as_dict()
    correlation_id = get_correlation_id()
    now = timezone.now()
    creates = [p for p in plan.rows if p.action == "create"]
    updates = [p for p in plan.rows if p.action == "update"]
    for p in [*creates, *updates]:
        contact = p.contact
        contact.event_sequence += 1
        if p.action == "update":
            contact.updated_at = now
        event_type = "contact.created" if p.action == "create" else "contact.updated"
        changes = {f: {"old": old, "new": new} for f, (old, new) in p.changes.items()}
        event_id = new_id()
        spec = EventSpec(
            event_type=event_type,
            aggregate_id=contact.pk,
            sequence=contact.event_sequence,
            event_id=event_id,
            data={
                "contact_id": str(contact.pk),
                "changes": changes,
                "contact": contact_snapshot(contact),
                "import_id": str(job.pk),
            },
            timeline_data={"changes": changes, "import_id": str(job.pk)},
            title=TITLES[event_type],
        )
        specs.append(spec)
        history.append(
            (new_id(), tenant.pk, contact.pk, event_id, ContactChange.entries(p.changes), actor_dict, source,
             correlation_id, now)
        )  # fmt: skip
    assignments, memberships, link_events = _link_events(job=job, plans=plan.rows, actor=actor)
    consents = consent_plan(
        tenant=tenant,
        statements=[
            Statement(contact=p.contact, channel=channel, purpose=purpose, status=status,
                      proof={"import_id": str(job.pk), "filename": job.filename, "line": p.row.line})
            for p in plan.rows
            if p.action in ("create", "update", "unchanged")
            for (channel, purpose), status in p.row.consents.items()
        ],
        actor=actor,
        source="import",
        only_unset=job.on_match == OnMatch.FILL_EMPTY,
    )  # fmt: skip
    touched = {p.contact.pk: p.contact for p in [*creates, *updates]}
    for contact, event_type, data, title, *event_id in [*link_events, *consents.events]:
        contact.event_sequence += 1
        touched[contact.pk] = contact
        specs.append(
            EventSpec(
                event_type=event_type,
                aggregate_id=contact.pk,
                sequence=contact.event_sequence,
                event_id=event_id[0] if event_id else None,
                data={"contact_id": str(contact.pk), **data},
                title=title,
            )
        )
    bulk_insert(Contact, [p.contact for p in creates])  # history rows point at them
    created_ids = {p.contact.pk for p in creates}
    changed_updates = [c for c in touched.values() if c.pk not in created_ids]
    if changed_updates:
        bulk_update(
            Contact, changed_updates, [*PUBLIC_FIELDS, "display_name_custom", "updated_at", "event_sequence"]
        )
    flagged = [p.contact.pk for p in plan.rows if p.display_name_set and p.contact.pk not in touched]
    if flagged:  # as PATCH with the derived name: no change, no event, but the name stays set
        Contact.objects.unscoped().filter(pk__in=flagged).update(display_name_custom=True)
    bulk_insert_values(ContactChange, HISTORY_COLUMNS, history)
    bulk_insert(TagAssignment, assignments)
    bulk_insert(ListMembership, memberships)
    consent_write(consents)
    event_record_many(tenant=tenant, events=specs, actor=actor, source=source, copy=True)
    if touched:
        from lists.dynamic import segments_refresh_contacts

        segments_refresh_contacts(tenant=tenant, contact_ids=list(touched), actor=actor, source=source)
    return list(touched)


# -- the job loop -------------------------------------------------------------------------------------


def _actor(job: ImportJob) -> Actor:
    data = job.actor or {}
    return Actor(type=data.get("type", "system"), id=data.get("id", "system"), label=data.get("label", ""))


def _rows(job: ImportJob):
    """(line, row) of every non-blank data row, streaming; the header is skipped."""
    reader, text = csvio.open_rows(
        job.file, compressed=job.compressed, encoding=job.encoding, delimiter=job.delimiter
    )
    with text:
        reader.header()
        for row in reader:
            if row and any(cell.strip() for cell in row):
                yield reader.start_line, row


def preview(job: ImportJob) -> list[dict[str, Any]]:
    """The first rows as they would be imported now, without writing anything."""
    rows = []
    source = _rows(job)
    for item in source:
        rows.append(item)
        if len(rows) >= PREVIEW_ROWS:
            break
    source.close()
    if job_problems(job):
        return [
            {
                "line": line,
                "action": "error",
                "values": {},
                "errors": ["mapping: Fix the mapping first (see problems)."],  # "field: reason" as others
                "contact_id": None,
            }
            for line, _ in rows
        ]
    parser = RowParser(job.header, job.mapping, _definitions(job.tenant))
    with transaction.atomic():
        plan = plan_batch(job, rows, lock=False, parser=parser)
        transaction.set_rollback(True)
    out = []
    for p in plan.rows:
        action = {"unchanged": "update", "duplicate": "skip"}.get(p.action, p.action)
        reasons = [f"{e['field']}: {e['message']}" for e in p.row.errors] or ([p.reason] if p.reason else [])
        out.append(
            {
                "line": p.row.line,
                "action": action,
                "values": {
                    **p.row.values,
                    **{f"attributes.{k}": v for k, v in p.row.attributes.items()},
                    "tags": p.row.tags,
                    **{f"consent.{c}.{purpose}": v for (c, purpose), v in p.row.consents.items()},
                },
                "errors": reasons,
                "contact_id": str(p.contact.pk) if p.contact and p.action != "create" else None,
            }
        )
    return out


def _advisory_key(job_id: uuid.UUID) -> int:
    """The whole id folded into the lock's 64 bits: its first 8 bytes alone are a UUIDv7's
    millisecond and a few bits more, which ids made in the same millisecond share (new_id counts
    up in the last bytes), so two jobs created together took one lock and one waited for the other."""
    return int.from_bytes(bytes(a ^ b for a, b in zip(job_id.bytes[:8], job_id.bytes[8:], strict=True)),
                          "big", signed=True)  # fmt: skip


# Failures that another run can get past: the database went away or failed over (a read-only
# standby answers InternalError), a lock broke, a contact was created twice meanwhile (IntegrityError
# after _commit_batch's own retry), the file's storage blinked (OSError), Celery's soft time limit.
# Anything else fails the batch the same way each time: the job fails instead (import_process).
TRANSIENT_ERRORS = (
    OperationalError, InterfaceError, InternalError, IntegrityError, OSError, SoftTimeLimitExceeded,
)  # fmt: skip


def import_process(job_id: uuid.UUID | str) -> str:
    """Run (or resume) an import: batches of BATCH_SIZE rows after the job's checkpoint, each in
    one transaction with its counters and checkpoint. Safe to call twice at once (a session
    advisory lock lets one run) and after a crash (it continues after the last committed batch)."""
    job = ImportJob.objects.unscoped().select_related("tenant").filter(pk=job_id).first()
    if job is None or job.status not in ACTIVE_STATUSES:
        return "nothing to do"
    postgres = connection.vendor == "postgresql"
    if postgres:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [_advisory_key(job.pk)])
            if not cursor.fetchone()[0]:
                return "running elsewhere"
    try:
        with tenant_context(job.tenant, correlation_id=job.correlation_id or None):
            try:
                return _run(job.pk)
            except FileNotFoundError:
                if job.file and default_storage.exists(job.file):
                    raise  # not the upload: another run may get past it (see TRANSIENT_ERRORS)
                # Not a blink: the upload is not in this worker's storage.
                logger.exception("import %s: its file is missing", job.pk)
                return _finish(
                    job.pk,
                    ImportStatus.FAILED,
                    error="The uploaded file is missing from the storage the worker reads (MEDIA_ROOT, or "
                    "the S3 bucket, must be shared by the web and worker processes). Upload it again.",
                )
            except TRANSIENT_ERRORS as exc:
                if not settings.TASKS_WITHOUT_WORKER:
                    raise  # the task runs again (redelivered, or queued by the stall check) and resumes
                # Tasks in-process (the embedded default): no redelivery, no beat to queue it again.
                # Resume here a few times (from the checkpoint), then fail naming the reason, rather
                # than leave the job `running` with nothing to run it (and the start request a 500).
                return _run_again_in_process(job, exc)
            except Exception as exc:
                # A batch that fails for any other reason fails the same way each time it is resumed:
                # the job fails, naming where, rather than staying running and queued again forever.
                logger.exception("import %s failed", job.pk)
                done = ImportJob.objects.unscoped().filter(pk=job.pk).values_list("checkpoint_row", flat=True)
                return _finish(
                    job.pk,
                    ImportStatus.FAILED,
                    error=f"Stopped by an internal error ({type(exc).__name__}) in the batch after row "
                    f"{done.first() or 0}; the rows before it are imported. Operators find the reason in "
                    f"the worker log (correlation id {job.correlation_id or '-'}).",
                )
    finally:
        if postgres:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_advisory_key(job.pk)])


IN_PROCESS_ATTEMPTS = 3


def _run_again_in_process(job: ImportJob, first: Exception) -> str:
    error: Exception = first
    for attempt in range(1, IN_PROCESS_ATTEMPTS):
        logger.warning("import %s: %s; resuming in-process (attempt %d)", job.pk, error, attempt + 1)
        time.sleep(attempt)
        connection.close_if_unusable_or_obsolete()  # a dropped connection is not reopened outside a request
        try:
            return _run(job.pk)
        except TRANSIENT_ERRORS as exc:
            error = exc
    logger.error("import %s: stopped by %r", job.pk, error)
    connection.close_if_unusable_or_obsolete()
    done = ImportJob.objects.unscoped().filter(pk=job.pk).values_list("checkpoint_row", flat=True)
    return _finish(
        job.pk,
        ImportStatus.FAILED,
        error=f"Stopped by {type(error).__name__} ({error}) in the batch after row {done.first() or 0}, "
        f"{IN_PROCESS_ATTEMPTS} times; the rows before it are imported. Import the rest again.",
    )


def contacts_analyze() -> float | None:
    """ANALYZE contacts_contact (PostgreSQL). An import queues it once it has created
    IMPORT_ANALYZE_MIN_ROWS contacts, and again when it ends having created twice as many (updates do not
    grow a tenant). Until the statistics know a tenant's new size, the planner takes a tenant that grew
    for the handful of rows it had, and may read all of its contacts through a tenant-led index where a
    selective one would do (a search, a lookup by ids, a segment refresh of an import batch);
    autovacuum's own ANALYZE comes only once 10% of the whole table changed, which on a shared table can
    be many imports later. After the first one the rest of the import, and the tenant's other queries
    meanwhile, are planned for a tenant at least that big. A task of its own: with the search statistics
    (contacts 0011) it takes seconds on a large table, which the import need not wait for (with a broker;
    tasks run in-process without one). SKIP_LOCKED: if autovacuum or another ANALYZE holds the table, it
    is doing the same thing. A role that does not own the table gets a warning from PostgreSQL and
    nothing analyzed. Returns its duration, or None when it did not run (not PostgreSQL)."""
    if connection.vendor != "postgresql":
        return None
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE (SKIP_LOCKED) contacts_contact")
    seconds = time.perf_counter() - started
    logger.info("ANALYZE contacts_contact after an import: %.2f s", seconds)
    return seconds


def contacts_analyze_later() -> None:
    def enqueue() -> None:
        from imports.tasks import contacts_analyze_task

        contacts_analyze_task.delay()

    transaction.on_commit(enqueue, robust=True)


def _run(job_id: uuid.UUID) -> str:
    job = ImportJob.objects.unscoped().select_related("tenant").get(pk=job_id)
    if job.status not in ACTIVE_STATUSES:
        return job.status
    run_started = time.monotonic()
    elapsed_before = job.elapsed_before
    now = timezone.now()
    started = (
        ImportJob.objects.unscoped()
        .filter(pk=job.pk, status__in=ACTIVE_STATUSES)
        .update(status=ImportStatus.RUNNING, started_at=job.started_at or now, heartbeat_at=now)
    )
    if not started:  # cancelled (or finished) since it was read: stays so
        return ImportJob.objects.unscoped().values_list("status", flat=True).get(pk=job.pk)
    actor = _actor(job)
    problems = job_problems(job)
    if problems:  # e.g. an attribute the mapping names was deleted after the start
        reasons = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        return _finish(job.pk, ImportStatus.FAILED, error=f"The mapping is no longer valid: {reasons}")
    parser = RowParser(job.header, job.mapping, _definitions(job.tenant))
    skip = job.checkpoint_row
    source = _batches(job, skip)
    # Read-ahead: the next batch is parsed and validated (plain Python, no database) in a second thread
    # while this one waits for PostgreSQL to write the current batch. Nothing of it is written before
    # its own turn, so checkpoints, cancelling and resuming are as without it; it holds one batch more.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-parse") as pool:
        ahead = None  # (batch, future of its parsed rows)
        while True:
            failure = None
            try:
                batch = next(source, None)
            except READ_ERRORS as exc:  # after committing what was read before it
                batch, failure = None, exc
            current = (batch, pool.submit(parse_batch, parser, batch)) if batch else None
            if ahead is not None and not _commit_batch(
                job.pk, ahead[0], parser, actor, lambda: elapsed_before + time.monotonic() - run_started,
                parsed=ahead[1].result(),
            ):  # fmt: skip
                return ImportStatus.CANCELLED
            if failure is not None:
                _finish(
                    job.pk,
                    ImportStatus.FAILED,
                    error=f"The file could not be read past row {skip}: {failure}",
                )
                return ImportStatus.FAILED
            if current is None:
                break
            ahead = current
    return _finish(job.pk, None)


READ_ERRORS = (csvio.ImportFileError, csv.Error, UnicodeDecodeError)


def _batches(job: ImportJob, skip: int):
    """Lists of up to BATCH_SIZE (line, row) after the first `skip` rows, streaming the file."""
    batch: list[tuple[int, list[str]]] = []
    for index, item in enumerate(_rows(job)):
        if index < skip:
            continue
        batch.append(item)
        if len(batch) == BATCH_SIZE:
            yield batch
            batch = []
    if batch:
        yield batch


def _commit_batch(
    job_id, batch, parser: RowParser, actor: Actor, elapsed: Callable[[], float], *,
    parsed: list[ParsedRow] | None = None,
) -> bool:  # fmt: skip
    """One batch, one transaction: the rows, the row errors, the counters and the checkpoint.
    `elapsed()`: the job's running time so far, read when the batch is written (its own time in it,
    as its rows are in processed_rows). Returns False when the job was cancelled (or finished
    elsewhere) instead."""
    for attempt in (1, 2):
        started = time.perf_counter()
        try:
            with transaction.atomic():
                job = ImportJob.objects.unscoped().select_for_update().select_related("tenant").get(pk=job_id)
                if job.status != ImportStatus.RUNNING:
                    return False
                if job.cancel_requested:
                    _end(job, ImportStatus.CANCELLED)
                    return False
                plan = plan_batch(
                    job, batch, lock=True, parser=parser, parsed=parsed if attempt == 1 else None
                )
                apply_batch(job, plan, actor)
                counts = plan.counts()
                errors = [
                    ImportRowError(
                        tenant=job.tenant, job=job, line=p.row.line, errors=p.row.errors, row=_kept(p.row.raw)
                    )
                    for p in plan.rows
                    if p.action == "error"
                ]
                ImportRowError.objects.for_tenant(job.tenant).bulk_create(errors)
                created_before = job.created_count
                job.created_count += counts["create"]
                job.updated_count += counts["update"]
                threshold = settings.IMPORT_ANALYZE_MIN_ROWS
                if threshold and created_before < threshold <= job.created_count:
                    contacts_analyze_later()  # once early on, so the rest of the import is planned right
                job.unchanged_count += counts["unchanged"]
                job.skipped_count += counts["skip"]
                job.duplicate_count += counts["duplicate"]
                job.failed_count += counts["error"]
                job.checkpoint_row += len(batch)
                job.heartbeat_at = timezone.now()
                job.elapsed_before = elapsed()
                job.save(update_fields=[
                    "created_count", "updated_count", "unchanged_count", "skipped_count", "duplicate_count",
                    "failed_count", "checkpoint_row", "heartbeat_at", "elapsed_before",
                ])  # fmt: skip
                transaction.on_commit(
                    partial(_batch_observe, job, counts, len(batch), time.perf_counter() - started)
                )
                return True
        except IntegrityError:
            # A contact with one of these emails / external ids was created meanwhile (API): plan again.
            if attempt == 2:
                raise
    return True


def _kept(raw: list[str]) -> list[str]:
    """A failed row as errors.csv gives it back: its first 200 cells, a NUL (which PostgreSQL's jsonb
    cannot hold) as U+FFFD."""
    return [cell.replace("\x00", "\ufffd") for cell in raw[:200]]


def _batch_observe(job: ImportJob, counts: dict[str, int], rows: int, seconds: float) -> None:
    """A committed batch: one log line (rows, outcomes, duration) and the import metrics."""
    from contacts_service import metrics

    metrics.import_batch_observe(counts=counts, seconds=seconds)
    logger.info(
        "import %s: batch of %d rows committed (%d done)",
        job.pk,
        rows,
        job.checkpoint_row,
        extra={
            "import_id": str(job.pk),
            "rows": rows,
            "checkpoint_row": job.checkpoint_row,
            "outcomes": counts,
            "duration_ms": round(seconds * 1000, 2),
            "rows_per_second": round(rows / seconds) if seconds > 0 else None,
        },
    )


def _finish(job_id, status: str | None, *, error: str = "") -> str:
    with transaction.atomic():
        job = ImportJob.objects.unscoped().select_for_update().select_related("tenant").get(pk=job_id)
        if job.status != ImportStatus.RUNNING:
            return job.status
        if status is None:
            status = ImportStatus.COMPLETED_WITH_ERRORS if job.failed_count else ImportStatus.COMPLETED
        _end(job, status, error=error)
    return status


def _end(job: ImportJob, status: str, *, error: str = "") -> None:
    """A running job (locked) ends: completed, failed or cancelled (after a batch, or abandoned). Its
    upload goes, import.completed carries its counts, and the duplicates recompute it owes is queued."""
    job.status, job.error, job.finished_at = status, error, timezone.now()
    upload_discard(job.file)  # personal data no longer read: errors.csv comes from the row errors
    job.file = ""
    job.save(update_fields=["status", "error", "finished_at", "file"])
    event_record(
        tenant=job.tenant,
        event_type="import.completed",
        aggregate_type="import",
        aggregate_id=job.pk,
        sequence=1,
        data=completed_data(job),
        actor=_actor(job),
        source=ChangeSource.IMPORT,
        timeline=False,
    )
    if job.created_count or job.updated_count:
        # One set-based recompute of the tenant's duplicate candidates after the import, not a
        # check per batch: a check of 500 contacts against a large tenant takes seconds, 2,000
        # of them (a 1M-row file) would keep a worker busy for hours.
        duplicates_recompute_later(tenant_id=job.tenant_id)
    threshold = settings.IMPORT_ANALYZE_MIN_ROWS
    if threshold and job.created_count >= 2 * threshold:  # grew well past the early ANALYZE's size
        contacts_analyze_later()
    logger.info("import %s %s: %s", job.pk, status, completed_data(job))


def completed_data(job: ImportJob) -> dict[str, Any]:
    return {
        "import_id": str(job.pk),
        "status": str(job.status),  # the value, not the enum member's repr in the log line
        "filename": job.filename,
        "total_rows": job.total_rows,
        "processed_rows": job.checkpoint_row,
        "created": job.created_count,
        "updated": job.updated_count,
        "unchanged": job.unchanged_count,
        "skipped": job.skipped_count,
        "duplicates": job.duplicate_count,
        "failed": job.failed_count,
        "error": job.error,
    }


def imports_requeue_stalled() -> int:
    """Queued or running jobs whose heartbeat stopped (worker killed, message lost): queue again."""
    stale = timezone.now() - dt.timedelta(seconds=settings.IMPORT_STALL_SECONDS)
    jobs = list(ImportJob.objects.unscoped().filter(status__in=ACTIVE_STATUSES, heartbeat_at__lt=stale))
    for job in jobs:
        ImportJob.objects.unscoped().filter(pk=job.pk).update(heartbeat_at=timezone.now())
        logger.warning("import %s: no heartbeat since %s, queued again", job.pk, job.heartbeat_at)
        _enqueue(job)
    return len(jobs)


def imports_expire_drafts() -> int:
    """Cancel the imports uploaded more than IMPORT_DRAFT_RETENTION_SECONDS ago and never started,
    deleting their uploads (a file of personal data nobody is going to import); returns how many."""
    retention = settings.IMPORT_DRAFT_RETENTION_SECONDS
    if not retention:
        return 0
    before = timezone.now() - dt.timedelta(seconds=retention)
    expired = 0
    for job_id in list(
        ImportJob.objects.unscoped()
        .filter(status=ImportStatus.DRAFT, created_at__lt=before)
        .values_list("pk", flat=True)[:1000]
    ):
        with transaction.atomic():
            job = (
                ImportJob.objects.unscoped()
                .select_for_update()
                .filter(pk=job_id, status=ImportStatus.DRAFT)
                .first()
            )
            if job is None:  # started or cancelled meanwhile
                continue
            job.status, job.finished_at = ImportStatus.CANCELLED, timezone.now()
            job.error = f"Not started within {_duration(retention)} of the upload: the file was deleted."
            upload_discard(job.file)
            job.file = ""
            job.save(update_fields=["status", "finished_at", "error", "file"])
            expired += 1
    if expired:
        logger.info("cancelled %d imports never started (uploads deleted)", expired)
    return expired


def _duration(seconds: int) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} seconds"

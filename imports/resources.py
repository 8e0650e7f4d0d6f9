"""Contacts import and export in the Django admin (django-import-export), one tenant at a time.

Export: the API export's default columns plus one attributes.<key> column per custom attribute of
the tenant; its live contacts only, tags prefetched, every cell neutralised as the API export does
(django-import-export's own escape only drops a leading "=").

Import: each row is parsed as the API import parses it (imports.rows.RowParser), matched by email
within the tenant and written through contact_create / contact_update / contact_tag with source
"admin" and the operator as actor, so history, timeline and outbox events are the API's. A row a
service refuses is a row error on the result page. django-import-export runs the preview and the
confirmed import each in one transaction, and rolls the preview back.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from typing import Any

import tablib
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.db.models.functions import Lower
from import_export import fields, resources, widgets
from import_export.formats.base_formats import CSV
from import_export.forms import ConfirmImportForm, ImportForm, SelectableFieldsExportForm
from import_export.results import Result

from contacts import services
from contacts.models import AttributeDefinition, ChangeSource, Contact
from contacts_service.context import Actor, tenant_context
from contacts_service.errors import ServiceError, ValidationFailed
from contacts_service.models import Tenant
from imports import csvio
from imports.exports import ATTRIBUTE_PREFIX, DEFAULT_COLUMNS, NAME_SEPARATOR
from imports.rows import FIELD_TARGETS, ParsedRow, RowParser
from tags.models import TagAssignment
from tags.services import contact_tag

IMPORT_COLUMNS = [c for c in DEFAULT_COLUMNS if c in FIELD_TARGETS or c == "tags"]
# Every row goes through the services twice (preview, then confirm) inside the admin's request, at
# 20-100 rows a second: larger files belong to the API import (a Celery task, set-based batches).
MAX_ROWS = 500
IMPORT_HELP = (
    "Only this tenant's contacts are matched and changed. Columns: "
    f"{', '.join(IMPORT_COLUMNS)} and attributes.<key> (others are ignored); rows are matched by "
    f"email; an empty cell leaves the field as it is; tags are added, never removed. At most {MAX_ROWS} "
    "rows: use the API import for more."
)
EXPORT_HELP = "Only this tenant's live contacts are exported (of the selected ones, if any)."


UNNAMED = "(no name) "  # + the column's position: a column whose header cell is empty


class ContactCSV(CSV):
    """django-import-export's CSV, except for rows whose number of cells differs from the header's:
    tablib refuses the whole file with a generic "invalid dimensions". Here every row is padded to
    the widest and the file's own widths are kept, so that a row with more cells than the header is
    that row's error ("3 columns where the header has 2"), as in the API import."""

    def create_dataset(self, in_stream, **kwargs) -> tablib.Dataset:
        if isinstance(in_stream, bytes) and self.encoding:
            in_stream = in_stream.decode(self.encoding)
        rows = list(csv.reader(io.StringIO(in_stream, newline=""), **kwargs))  # as tablib: "\r" lines too
        while rows and not any(cell.strip() for cell in rows[0]):  # the header is the first row not blank
            rows.pop(0)
        dataset = tablib.Dataset()
        if not rows:
            return dataset
        header, data = rows[0], rows[1:]
        width = max(len(row) for row in rows)
        dataset.headers = header + [""] * (width - len(header))
        for row in data:
            dataset.append(row + [""] * (width - len(row)))
        dataset.header_width = len(header)
        dataset.widths = [len(row) for row in data]
        return dataset


class CellWidget(widgets.Widget):
    """A value as the API export writes it: times in UTC to the second, attribute values as JSON."""

    def render(self, value: Any, obj=None, **kwargs) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, dt.datetime):
            return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, float):  # as the API export writes numbers
            from imports.exports import number_text

            return number_text(value)
        return json.dumps(value, ensure_ascii=False)


class AttributeField(fields.Field):
    """One custom attribute of Contact.attributes as its own column."""

    def __init__(self, key: str):
        super().__init__(column_name=f"{ATTRIBUTE_PREFIX}{key}", widget=CellWidget())
        self.key = key

    def get_value(self, instance: Contact) -> Any:
        return (instance.attributes or {}).get(self.key)


class TagsField(fields.Field):
    """The contact's tag names, sorted ignoring case, in one cell (as the API export)."""

    def get_value(self, instance: Contact) -> str | None:
        if instance._state.adding:
            return None
        prefetched = getattr(instance, "_prefetched_objects_cache", {}).get("tag_assignments")
        if prefetched is not None:
            names = [(assignment.tag_key, assignment.tag.name) for assignment in prefetched]
        else:  # the import preview of one row
            names = list(instance.tag_assignments.values_list(Lower("tag__name"), "tag__name"))
        # Ordered by the database's lower(name), as the API export's COPY writer orders them (Python's
        # str.lower differs on a few letters: "İ", a final sigma).
        return NAME_SEPARATOR.join(name for _, name in sorted(names)) or None


class ContactResource(resources.ModelResource):
    """Contacts of the `tenant` given to the constructor; imports act as `actor`.

    The admin also builds it without a tenant to list the columns on its forms; such an instance
    neither exports nor imports."""

    tags = TagsField(column_name="tags", widget=CellWidget())

    class Meta:
        model = Contact
        fields = tuple(DEFAULT_COLUMNS)
        export_order = tuple(DEFAULT_COLUMNS)
        import_id_fields = ["email"]
        chunk_size = 2000  # contacts per export query (and one query for their tags)

    def __init__(self, *, tenant: Tenant | None = None, actor: Actor | None = None, **kwargs):
        super().__init__(**kwargs)
        self.tenant, self.actor = tenant, actor
        self.definitions: dict[str, AttributeDefinition] = (
            {d.key: d for d in AttributeDefinition.objects.for_tenant(tenant)} if tenant else {}
        )
        for key in self.definitions:
            self.fields[f"{ATTRIBUTE_PREFIX}{key}"] = AttributeField(key)
        self.parser: RowParser | None = None
        self.widths: list[int] | None = None  # each data row's cells as in the file (ContactCSV)
        self.row: ParsedRow | None = None  # the row being imported; None when blank

    @classmethod
    def field_from_django_field(cls, field_name, django_field, readonly):
        return fields.Field(attribute=field_name, column_name=field_name, widget=CellWidget())

    @property
    def attribute_columns(self) -> list[str]:
        return [f"{ATTRIBUTE_PREFIX}{key}" for key in self.definitions]

    def _tenant(self) -> Tenant:
        if self.tenant is None:
            raise ValueError("Choose a tenant.")
        return self.tenant

    def get_queryset(self) -> QuerySet[Contact]:
        return Contact.objects.for_tenant(self._tenant()).filter(deleted_at__isnull=True)

    # -- export ------------------------------------------------------------------------------------

    def filter_export(self, queryset: QuerySet[Contact], **kwargs) -> QuerySet[Contact]:
        """Whatever the changelist selected, only this tenant's live contacts, oldest first."""
        tenant = self._tenant()
        assignments = (
            TagAssignment.objects.for_tenant(tenant)
            .select_related("tag")
            .annotate(tag_key=Lower("tag__name"))
        )
        return (
            queryset.filter(tenant=tenant, deleted_at__isnull=True)
            .select_related(None)
            .prefetch_related(Prefetch("tag_assignments", queryset=assignments))
            .order_by("created_at", "id")
        )

    def export(self, queryset=None, **kwargs):
        # The export form offers the fixed columns only (it lists them without a tenant).
        if kwargs.get("export_fields"):
            kwargs["export_fields"] = [*kwargs["export_fields"], *self.attribute_columns]
        return super().export(queryset, **kwargs)

    def export_resource(self, instance: Contact, selected_fields=None, **kwargs) -> list[str]:
        cells = super().export_resource(instance, selected_fields, **kwargs)
        return [csvio.neutralise(cell) for cell in cells]

    # -- import ------------------------------------------------------------------------------------

    def get_import_order(self) -> tuple[str, ...]:
        return (*IMPORT_COLUMNS, *self.attribute_columns)

    def import_data(self, dataset, **kwargs):
        with tenant_context(self._tenant()):
            return super().import_data(dataset, **kwargs)

    def before_import(self, dataset, **kwargs) -> None:
        """Check the file as a whole and map its columns; a problem here is the file's one error."""
        headers = []
        for index, header in enumerate(dataset.headers or []):
            name = str(header or "").strip()
            # A column with no name is ignored, as the API import ignores it. Named apart: rows reach
            # before_import_row as dicts keyed by header, where two "" would be one.
            headers.append(name.lower() if name.lower() in IMPORT_COLUMNS else name or f"{UNNAMED}{index}")
        attributes = [name for name in headers if name.startswith(ATTRIBUTE_PREFIX)]
        problem = self._file_problem(len(dataset), headers, attributes)
        if problem:
            del dataset[:]  # django-import-export would go on with the rows
            raise ValueError(problem)
        dataset.headers = headers
        # Other columns (id, created_at, ...) are ignored.
        mapping = {name: name if name in IMPORT_COLUMNS or name in attributes else "" for name in headers}
        self.widths = getattr(dataset, "widths", None)
        width = getattr(dataset, "header_width", len(headers))
        self.parser = RowParser(headers[:width], mapping, self.definitions)

    def _file_problem(self, rows: int, headers: list[str], attributes: list[str]) -> str | None:
        if rows > MAX_ROWS:
            return f"At most {MAX_ROWS} rows here; import larger files with the API import."
        if "email" not in headers:
            return "The file needs an email column: the admin import matches contacts by email."
        twice = sorted({name for name in headers if headers.count(name) > 1})
        if twice:
            return f"Columns named more than once: {', '.join(twice)}."
        unknown = [name for name in attributes if name.removeprefix(ATTRIBUTE_PREFIX) not in self.definitions]
        if unknown:
            return f"No custom attribute of this tenant is defined as {', '.join(unknown)}."
        return None

    def before_import_row(self, row, **kwargs) -> None:
        number = kwargs.get("row_number", 0)
        raw = ["" if value is None else str(value) for value in row.values()]
        if self.widths is not None and 0 < number <= len(self.widths):
            raw = raw[: self.widths[number - 1]]  # the row as the file has it (ContactCSV pads it)
        # A blank row is skipped, as the API import skips it (it was an error: "no email").
        self.row = self.parser.parse(number, raw) if any(cell.strip() for cell in raw) else None

    def init_instance(self, row=None) -> Contact:
        return Contact(tenant=self._tenant())

    def get_or_init_instance(self, instance_loader, row) -> tuple[Contact, bool]:
        """The tenant's live contact with the row's (normalised, lower-case) email, else a new one."""
        email = self.row.values.get("email") if self.row is not None else None
        contact = self.get_queryset().filter(email=email).first() if email else None
        if contact is not None:
            return contact, False
        return self.init_instance(row), True

    def import_instance(self, instance: Contact, row, **kwargs) -> None:
        """Write the row through the services, then show the result on `instance` (the preview)."""
        parsed = self.row
        if parsed is None:  # blank: skip_row skips it
            return
        if not instance._state.adding:
            parsed.read_phone_in(instance.country)
        errors: dict[str, list[str]] = {}
        for error in parsed.errors:
            errors.setdefault(error["field"], []).append(error["message"])
        if not errors and not parsed.values.get("email"):
            errors["email"] = ["Each row needs an email: the admin import matches contacts by email."]
        if errors:
            raise ValidationError(errors)
        data: dict[str, Any] = dict(parsed.values)
        if parsed.attributes:
            data["attributes"] = parsed.attributes
        try:
            with transaction.atomic():  # a row is written whole or not at all
                if instance._state.adding:
                    contact = services.contact_create(
                        tenant=self.tenant, actor=self.actor, data=data, source=ChangeSource.ADMIN
                    )
                else:
                    contact = services.contact_update(
                        tenant=self.tenant,
                        actor=self.actor,
                        contact_id=instance.pk,
                        data=data,
                        source=ChangeSource.ADMIN,
                    )
                if parsed.tags:
                    contact_tag(
                        tenant=self.tenant,
                        actor=self.actor,
                        contact_id=contact.pk,
                        names=parsed.tags,
                        source=ChangeSource.ADMIN,
                    )
                    contact.refresh_from_db(fields=["event_sequence", "updated_at"])
        except ServiceError as exc:
            raise ValidationError(_row_errors(exc)) from exc
        for field in Contact._meta.concrete_fields:
            setattr(instance, field.attname, getattr(contact, field.attname))
        instance._state.adding = False

    def skip_row(self, instance, original, row, import_validation_errors=None) -> bool:
        """A blank row, or an existing contact the row did not change (the services recorded nothing)."""
        if self.row is None:
            return True
        if import_validation_errors or original is None or original._state.adding:
            return False
        return instance.event_sequence == original.event_sequence

    def save_instance(self, instance, is_create, row, **kwargs) -> None:
        """Nothing to save: import_instance wrote the row through the services."""


def _row_errors(exc: ServiceError) -> dict[str, list[str]]:
    if isinstance(exc, ValidationFailed):
        errors: dict[str, list[str]] = {}
        for error in exc.errors:
            errors.setdefault(error.get("field") or NON_FIELD_ERRORS, []).append(error["message"])
        return errors
    message = exc.message
    if exc.code == "erased":
        message = (
            f"This {exc.field} belongs to a contact erased under GDPR; the admin import does not bring "
            "it back (the API import can, with allow_erased)."
        )
    return {exc.field or NON_FIELD_ERRORS: [message]}


def result_problems(result: Result, limit: int = 5) -> list[str]:
    """The first problems of an import result, one line each, for a message."""
    problems = [str(error.error) for error in result.base_errors]
    for number, errors in result.row_errors():
        problems.extend(f"row {number}: {error.error}" for error in errors)
    for row in result.invalid_rows:
        problems.extend(
            f"row {row.number}: {field}: {' '.join(messages)}" for field, messages in row.error_dict.items()
        )
    return problems[:limit]


# -- the admin's forms: each asks for the tenant ----------------------------------------------------


def _tenant_field(**kwargs) -> forms.ModelChoiceField:
    return forms.ModelChoiceField(queryset=Tenant.objects.all(), **kwargs)


class ContactImportForm(ImportForm):
    tenant = _tenant_field(help_text=IMPORT_HELP)
    field_order = ["tenant", "resource", "import_file", "format"]


class ContactConfirmImportForm(ConfirmImportForm):
    tenant = _tenant_field(widget=forms.HiddenInput())


class ContactExportForm(SelectableFieldsExportForm):
    tenant = _tenant_field(help_text=EXPORT_HELP)

    def __init__(self, formats, resources, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.order_fields(["tenant", "format"])
        selected = self.initial.get("export_items")
        if selected and "tenant" not in self.initial:  # rows chosen on the list: their tenant, if one
            tenants = set(
                Contact.objects.unscoped()
                .filter(pk__in=selected)
                .order_by()
                .values_list("tenant_id", flat=True)
                .distinct()[:2]
            )
            if len(tenants) == 1:
                self.initial["tenant"] = tenants.pop()

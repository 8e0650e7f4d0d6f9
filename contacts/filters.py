"""Query parameters of GET /api/v1/contacts/."""

from __future__ import annotations

import math
import re
import uuid
from decimal import Decimal
from typing import Any

import django_filters
from django.db import connection
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, Value
from django.db.models.functions import Lower
from django.http import QueryDict
from rest_framework.exceptions import ValidationError

from contacts.models import AttributeLookup, Contact, ContactStatus
from contacts.normalization import canonical_email
from contacts.search import search_contacts
from contacts_service.context import get_current_tenant
from contacts_service.filters import FilterSet, IsoDateTimeFilter
from contacts_service.names import db_name_keys

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _filter_number(raw: str, key: str, name: str) -> int | float | None:
    """The number of a `key:value` number filter, read exactly, or None when no stored number can equal
    it. An integer up to 2^53 is the int (10 stays 10, stored as 10, not 10.0). Past 2^53, and for a
    fraction, a stored number is a float written as its shortest text (the API refuses larger integers;
    json writes a float so): 1e23 is stored as the number 1e+23, 2.0**60 as 1.152921504606847e+18. So
    the filter is the float whose shortest text is that very number, and a number no float writes
    (2^53 + 1, 2^60 exactly) finds nobody. Read through a float first, 2^53 + 1 became 2^53 and found
    that contact; read as "the float holding it exactly", 1e23 found nobody."""
    if not _DECIMAL.fullmatch(raw):
        raise ValidationError({name: [f"{key} is a number; got {raw[:50]!r}."]})
    number = Decimal(raw)
    if number.is_zero():
        return 0
    if number.adjusted() > 308:
        raise ValidationError({name: [f"{key}: {raw[:50]!r} is out of range."]})
    if abs(number) <= 2**53 and number == number.to_integral_value():
        return int(number)
    value = float(number)
    if not math.isfinite(value):  # 1.8e308 to 10^309: past the largest float
        raise ValidationError({name: [f"{key}: {raw[:50]!r} is out of range."]})
    return value if Decimal(repr(value)) == number else None


class ContactFilter(FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=ContactStatus.choices,
        distinct=False,  # a plain column: no join, nothing to de-duplicate (DISTINCT defeats the indexes)
        help_text="One or more statuses (repeat the parameter).",
    )
    country = django_filters.CharFilter(
        method="filter_country", help_text="ISO code, e.g. FR; comma-separated for several."
    )
    city = django_filters.CharFilter(field_name="city", lookup_expr="iexact")
    company = django_filters.CharFilter(field_name="company", lookup_expr="icontains")
    email = django_filters.CharFilter(
        method="filter_email", help_text="Exact email (any case, any spelling of its domain)."
    )
    external_id = django_filters.CharFilter(field_name="external_id")
    source = django_filters.CharFilter(field_name="source")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    updated_after = IsoDateTimeFilter(field_name="updated_at", lookup_expr="gte")
    updated_before = IsoDateTimeFilter(field_name="updated_at", lookup_expr="lt")
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=200,
        help_text="Words matched against email, names, company and phone.",
    )
    tags = django_filters.CharFilter(
        method="filter_tags_any", help_text="Comma-separated tag names or ids: contacts with any of them."
    )
    tags_all = django_filters.CharFilter(
        method="filter_tags_all", help_text="Comma-separated tag names or ids: contacts with all of them."
    )
    list = django_filters.UUIDFilter(method="filter_list", help_text="Members of this list (id).")
    consent = django_filters.CharFilter(
        method="filter_consent",
        max_length=1000,  # 10 conditions of 64-character purpose keys (500 refused some)
        help_text="Current consent channel:purpose:status, e.g. email:marketing:granted (status one of "
        "granted, revoked, pending, none); up to 10 comma-separated conditions, which must all hold.",
    )
    attribute = django_filters.CharFilter(
        method="filter_attribute",
        max_length=500,
        help_text="Custom attribute equal to a value, key:value (e.g. plan:pro, score:10, vip:true), read "
        "by the attribute's type; up to 10 comma-separated conditions, which must all hold.",
    )
    ordering = django_filters.OrderingFilter(
        fields=(
            ("created_at", "created_at"),
            ("updated_at", "updated_at"),
            ("last_name", "last_name"),
            ("first_name", "first_name"),
            ("email", "email"),
            ("display_name", "display_name"),
            ("company", "company"),
        ),
        help_text="Field to order by, '-' for descending; default -created_at.",
    )

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        # The schema documents ordering as an array: ?ordering=email&ordering=-created_at is read as
        # ordering=email,-created_at (django-filter's widget kept the last value only).
        if data is not None and hasattr(data, "getlist") and len(data.getlist("ordering")) > 1:
            data = data.copy()
            data.setlist("ordering", [",".join(data.getlist("ordering"))])
        super().__init__(data, *args, **kwargs)

    def filter_country(self, queryset, name, value):
        codes = [code.strip().upper() for code in value.split(",") if code.strip()]
        return queryset.filter(country__in=codes) if codes else queryset

    def filter_email(self, queryset, name, value):
        return queryset.filter(email=canonical_email(value))

    def filter_tags_any(self, queryset, name, value):
        if not value.replace(",", "").strip():
            return queryset  # `?tags=,` is empty: skipped, as every empty filter (and tags_all)
        tag_ids = _tag_ids(value, name)
        return queryset.filter(_has_any_tag(tag_ids))

    def filter_tags_all(self, queryset, name, value):
        tag_ids = _tag_ids(value, name, every=True)
        if tag_ids is None:
            return queryset.none()  # a tag that does not exist: nobody has all of them
        if len(tag_ids) > 1 and connection.vendor == "postgresql":
            holders = _contacts_with_all_tags(tag_ids)
            if holders is not None:
                return queryset.filter(pk__in=holders)
        for tag_id in tag_ids:
            queryset = queryset.filter(_has_any_tag([tag_id]))
        return queryset

    def filter_list(self, queryset, name, value):
        from lists.models import ListMembership

        return queryset.filter(
            Exists(ListMembership.objects.filter(contact_id=OuterRef("pk"), contact_list_id=value))
        )

    def filter_consent(self, queryset, name, value):
        from consent.models import ConsentChannel, ConsentStatus
        from consent.selectors import has_consent
        from consent.services import purpose_keys

        tenant = get_current_tenant()
        purposes = set(purpose_keys(tenant=tenant))
        conditions = [part.strip() for part in value.split(",") if part.strip()]
        if len(conditions) > 10:  # never cut silently: a dropped condition would widen the answer
            raise ValidationError({name: ["At most 10 conditions."]})
        for condition in conditions:
            channel, _, rest = condition.partition(":")
            purpose, _, status = rest.partition(":")
            if channel not in ConsentChannel.values:
                raise ValidationError({name: [f"Unknown channel {channel!r} in {condition!r}."]})
            if purpose not in purposes:
                raise ValidationError({name: [f"Unknown purpose {purpose!r} in {condition!r}."]})
            if status == "none":
                queryset = queryset.filter(~has_consent(tenant=tenant, channel=channel, purpose=purpose))
            elif status in ConsentStatus.values:
                queryset = queryset.filter(
                    has_consent(tenant=tenant, channel=channel, purpose=purpose, statuses=[status])
                )
            else:
                raise ValidationError(
                    {name: [f"Use channel:purpose:status with status granted, revoked, pending or none; "
                            f"got {condition!r}."]}
                )  # fmt: skip
        return queryset

    def filter_attribute(self, queryset, name, value):
        """attributes @> {key: typed value}: one containment test, served by the GIN index on
        (tenant_id, attributes)."""
        from contacts.models import AttributeDefinition, AttributeType
        from contacts.normalization import FieldError, attribute_value

        conditions = [part for part in value.split(",") if part.strip()]
        if len(conditions) > 10:
            raise ValidationError({name: ["At most 10 conditions."]})
        pairs = [condition.partition(":") for condition in conditions]
        definitions = {
            d.key: d
            for d in AttributeDefinition.objects.for_tenant(get_current_tenant()).filter(
                key__in=[key.strip() for key, _, _ in pairs]
            )
        }
        wanted, contradiction = {}, False
        for key, colon, raw in pairs:
            definition = definitions.get(key.strip())
            if not colon or definition is None:
                message = f"Use key:value with a defined attribute key; got {key + colon + raw!r}."
                raise ValidationError({name: [message]})
            raw = raw.strip()
            if definition.type == AttributeType.NUMBER:
                typed = _filter_number(raw, definition.key, name)
                if typed is None:  # no stored number can equal it
                    contradiction = True
                    continue
            elif definition.type == AttributeType.BOOLEAN:
                if raw.lower() not in ("true", "false"):
                    raise ValidationError({name: [f"{definition.key} is true or false; got {raw!r}."]})
                typed = raw.lower() == "true"
            else:
                typed = raw
            try:
                value = attribute_value(definition, typed, name)
            except FieldError as exc:
                raise ValidationError({name: [f"{definition.key}: {exc.message}"]}) from None
            if definition.key in wanted and wanted[definition.key] != value:
                contradiction = True  # plan:pro,plan:free: all must hold, so nobody
            wanted[definition.key] = value
        if contradiction:
            return queryset.none()
        if not wanted:
            return queryset
        if connection.vendor != "postgresql":  # SQLite has no JSON containment: one key lookup each
            for key, value in wanted.items():
                queryset = queryset.filter(AttributeLookup(key, "exact", value))
            return queryset
        return queryset.filter(attributes__contains=wanted)

    def filter_search(self, queryset, name, value):
        return search_contacts(queryset, value)

    @property
    def qs(self):
        queryset = super().qs
        if not self.form.cleaned_data.get("ordering"):
            queryset = queryset.order_by("-created_at", "-id")
        else:
            queryset = queryset.order_by(*queryset.query.order_by, "-id")
        return queryset


FILTER_NAMES = [name for name in ContactFilter.base_filters if name != "ordering"]


# Filters whose one value may list several, comma-separated: a JSON list for them is joined.
COMMA_FILTERS = {"country", "tags", "tags_all", "consent", "attribute"}


def filter_query(filters: dict[str, Any], *, prefix: str) -> tuple[QueryDict, list[dict[str, str]]]:
    """A JSON object of contacts list filters (a bulk selection's `filter`, an export's `filters`) as
    the query string GET /contacts/ would get, and what is wrong with it (fields `<prefix>.<name>`):
    a value is a string, or a list of strings where the filter takes several (`status`; joined with
    commas for COMMA_FILTERS). Anything else is refused, never read as something else: a list on a
    one-value filter used to keep its last item, null to drop the filter, both widening a selection."""
    data, problems = QueryDict(mutable=True), []
    for name, value in filters.items():
        field = f"{prefix}.{name}"
        if name not in ContactFilter.base_filters or name == "ordering":
            message = f"Not a filter of the contacts list; use one of {', '.join(FILTER_NAMES)}."
            problems.append({"field": field, "code": "unknown", "message": message})
            continue
        values = value if isinstance(value, list) else [value]
        if not values or not all(isinstance(v, str) for v in values):
            problems.append({"field": field, "code": "invalid", "message": "A string or a list of strings."})
            continue
        if not any(v.replace(",", "").strip() for v in values):
            # GET /contacts/ skips an empty parameter; here that would select every contact for a
            # mass write or an export: refused, `{}` is how a selection asks for everyone.
            message = "Empty: leave the filter out to select every contact."
            problems.append({"field": field, "code": "blank", "message": message})
            continue
        multiple = isinstance(ContactFilter.base_filters[name], django_filters.MultipleChoiceFilter)
        if isinstance(value, list) and not multiple:
            if name not in COMMA_FILTERS:  # even of one item: the documented contract, a string
                problems.append({"field": field, "code": "invalid", "message": "One value, not a list."})
                continue
            values = [",".join(values)]
        data.setlist(name, values)
    return data, problems


def filter_selection(queryset, filters: dict[str, Any], *, prefix: str, problems: list | None = None):
    """`queryset` filtered by a JSON object of contacts list filters (filter_query), as the contacts
    list filters it; one ValidationFailed naming every problem (`problems`: the caller's own, first),
    those of the values of known filters too (an unknown filter hid them)."""
    from contacts_service.errors import ValidationFailed, flatten_errors

    data, found = filter_query(filters, prefix=prefix)
    problems = [*(problems or []), *found]
    filterset = ContactFilter(data, queryset=queryset)
    if not filterset.is_valid():
        problems += [
            {"field": f"{prefix}.{name}", "code": error["code"] or "invalid", "message": error["message"]}
            for name, items in filterset.form.errors.get_json_data().items()
            for error in items
        ]
    if problems:
        raise ValidationFailed(problems, message=f"Invalid {prefix}.")
    try:
        return filterset.qs
    except ValidationError as exc:  # raised by a filter method (consent conditions, too many tags...)
        raise ValidationFailed(flatten_errors(exc.detail, prefix), message=f"Invalid {prefix}.") from exc


def _tag_ids(value: str, param: str, *, every: bool = False) -> list[uuid.UUID] | None:
    """Tag names (any case, as tag names are unique: lower-cased, whitespace collapsed) or ids of the
    tenant in scope; unknown ones match nothing. every=True: None when any of them is unknown.

    A value shaped as an id is the tag with that id, failing that the tag with that name (a tag may be
    named with 32 hex digits, an order number); its name key is its lower case (an id is ASCII)."""
    from tags.models import Tag

    parts = [p.strip() for p in value.split(",") if p.strip()]
    if len(parts) > 50:
        raise ValidationError({param: ["At most 50 tags."]})
    if not parts:
        return []
    ids, names = {}, []
    for part in parts:
        try:
            ids[part.lower()] = uuid.UUID(part)
        except ValueError:
            names.append(part)
    # Lower-cased by the database on both sides, as the unique index compares names; tags_all needs
    # the keys themselves (a query more) to tell whether every name was found.
    keys = db_name_keys(names) if every else [Lower(Value(" ".join(n.split()))) for n in names]
    tags = Tag.objects.annotate(key=Lower("name"))
    if names:
        tags = tags.annotate(named=ExpressionWrapper(Q(key__in=keys), output_field=BooleanField()))
    else:
        tags = tags.annotate(named=Value(False))
    rows = list(
        tags.filter(Q(pk__in=ids.values()) | Q(key__in=[*ids, *keys])).values_list("pk", "key", "named")
    )
    found = {pk for pk, _, named in rows if named}
    unknown = every and bool(set(keys) - {key for _, key, named in rows if named})
    for key, tag_id in ids.items():
        chosen = {tag_id} & {pk for pk, _, _ in rows} or {pk for pk, name, _ in rows if name == key}
        unknown = unknown or not chosen
        found |= chosen
    return None if every and unknown else list(found)


TAGS_ALL_IDS_LIMIT = 5_000


def _contacts_with_all_tags(tag_ids: list[uuid.UUID]) -> list[uuid.UUID] | None:
    """The ids of the tenant's contacts holding every one of tag_ids, or None past
    TAGS_ALL_IDS_LIMIT of them.

    Why the ids, read first: the planner takes tags as independent, so two tags of one contact in
    eight and ten expect ~1,000 holders at 1,000,000 contacts, and a page of such a filter walks
    the created_at order probing both tags for each contact; when nobody holds both, it walks the
    whole tenant (1.4 s). One merge join of the tags' own index entries (tenant, tag, contact)
    finds the holders in ~45 ms whatever their number, and the contacts are then read by id. Past
    the limit the holders are common enough for the walk to stop early, and the per-tag EXISTS
    filters stay."""
    from tags.models import TagAssignment

    table = connection.ops.quote_name(TagAssignment._meta.db_table)
    tenant = get_current_tenant()
    joins, params = [], []
    for n, tag_id in enumerate(tag_ids[1:], start=1):
        joins.append(
            f"JOIN {table} t{n} ON t{n}.tenant_id = t0.tenant_id AND t{n}.contact_id = t0.contact_id "
            f"AND t{n}.tag_id = %s"
        )
        params.append(tag_id)
    sql = (  # table and alias names only; every value is a parameter
        f"SELECT t0.contact_id FROM {table} t0 {' '.join(joins)} "  # noqa: S608
        "WHERE t0.tenant_id = %s AND t0.tag_id = %s LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, tenant.pk, tag_ids[0], TAGS_ALL_IDS_LIMIT + 1])
        holders = [row[0] for row in cursor.fetchall()]
    return holders if len(holders) <= TAGS_ALL_IDS_LIMIT else None


def _has_any_tag(tag_ids: list[uuid.UUID]) -> Exists:
    from tags.models import TagAssignment

    return Exists(TagAssignment.objects.filter(contact_id=OuterRef("pk"), tag_id__in=tag_ids))

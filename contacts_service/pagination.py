"""Paging of every list endpoint: page numbers for the first pages, keyset cursors for deep paging,
and counts that stay cheap on a million rows.

- `?page=N&page_size=M` (M <= API_MAX_PAGE_SIZE) -> {count, count_is_estimate, next, previous,
  results, next_cursor}. Bad paging input is refused (400), never clamped.
- `?cursor=` (empty: the first page) or `?cursor=<next_cursor>` -> the same envelope, but the page
  starts after the last row of the previous one (keyset: `WHERE (key, id) < (last key, last id)`),
  so page 10,000 costs what page 1 costs and rows added meanwhile neither repeat nor skip rows.
  It follows the ordering the endpoint applies (`?ordering=` of the contacts list included).
- `count` is exact up to API_COUNT_EXACT_LIMIT rows (a count over at most that many rows); past it,
  PostgreSQL's planner estimate, with `count_is_estimate: true`. A page past an estimated end is
  simply empty.

Written here rather than DRF's CursorPagination: that one positions on the first ordering field
only (plus an offset among equal values, which grows on a column such as last_name with many equal
values) and cannot position on a nullable column (email); this one compares the whole ordering,
ties broken by the primary key, nulls where PostgreSQL sorts them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
import uuid
from collections import OrderedDict
from typing import Any

from django.conf import settings
from django.core import signing
from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page, Paginator
from django.db import connections
from django.db.models import F, Q, QuerySet
from django.utils.functional import cached_property
from rest_framework import pagination
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from contacts_service.context import get_current_tenant

CURSOR_PARAM = "cursor"


# (db, SHA-256 of sql and params) -> (when, plan). A digest, not the statement: a filter such as
# tags_all (up to 5,000 contact ids as parameters) made each key ~0.5 MB, 250 MB per process at 512.
_estimates: OrderedDict[tuple, tuple[float, tuple[int, dict]]] = OrderedDict()
_ESTIMATES_KEPT = 512
_estimates_lock = threading.Lock()


def estimated_count(queryset: QuerySet) -> int:
    """Rows the planner expects the query to return (EXPLAIN, nothing executed). An estimate moves
    only as the table's statistics do, so each process keeps it API_COUNT_ESTIMATE_SECONDS for the
    same statement (tenant and filter values are in the key): a page read again, or the next
    page, skips the planner's round trip."""
    sql, params = queryset.order_by().values_list("pk").query.sql_with_params()
    return _explained(queryset.db, sql, params)[0]


def page_plan(queryset: QuerySet, rows: int, compiled: tuple[str, Any] | None = None) -> tuple[int, bool]:
    """(rows the whole filter is expected to match, whether the plan of its first `rows` rows in
    order reads them all): a plan that sorts (a trigram bitmap, a hash join) finds every match
    before the first row, a plan that walks an index in order stops after `rows` matches.
    `compiled`: the (sql, params) of queryset.values_list("pk"), when the caller has them."""
    sql, params = compiled or queryset.values_list("pk").query.sql_with_params()
    expected, plan = _explained(queryset.db, f"{sql} LIMIT %s", (*params, rows))
    node = plan.get("Plans", [plan])[0] if plan["Node Type"] == "Limit" else plan
    expected = int(node["Plan Rows"])
    while node["Node Type"] in ("Gather Merge", "Result", "Subquery Scan") and node.get("Plans"):
        node = node["Plans"][0]
    return expected, node["Node Type"] == "Sort"


def _explained(db: str, sql: str, params) -> tuple[int, dict]:
    """(Plan Rows, plan) of EXPLAIN sql, kept per process (see estimated_count)."""
    key = (db, hashlib.sha256(repr((sql, tuple(str(p) for p in params))).encode()).digest())
    now = time.monotonic()
    with _estimates_lock:
        cached = _estimates.get(key)
    if cached is not None and now - cached[0] < settings.API_COUNT_ESTIMATE_SECONDS:
        return cached[1]
    with connections[db].cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    result = (int(plan[0]["Plan"]["Plan Rows"]), _slim(plan[0]["Plan"]))
    with _estimates_lock:
        _estimates[key] = (now, result)
        _estimates.move_to_end(key)
        while len(_estimates) > _ESTIMATES_KEPT:
            _estimates.popitem(last=False)
    return result


def _slim(node: dict) -> dict:
    """What page_plan reads of a plan: its nodes' types and row estimates, not their conditions (a
    filter on 5,000 ids writes all of them into the plan)."""
    slim = {"Node Type": node["Node Type"], "Plan Rows": node["Plan Rows"]}
    if node.get("Plans"):
        slim["Plans"] = [_slim(child) for child in node["Plans"]]
    return slim


def capped_count(queryset: QuerySet) -> tuple[int, bool]:
    """(count, is_estimate): exact while at most API_COUNT_EXACT_LIMIT rows match, else estimated."""
    limit = settings.API_COUNT_EXACT_LIMIT
    exact = queryset.order_by()[: limit + 1].count()
    if exact <= limit or connections[queryset.db].vendor != "postgresql":
        return (exact if exact <= limit else queryset.count()), False
    return max(estimated_count(queryset), exact), True


# First pages (see PageNumberPagination._first_page); {query} is the ORM's SQL of the queryset.
_PAGE_AND_COUNT = (
    "SELECT pk, total FROM (SELECT s.pk, row_number() OVER () AS n, count(*) OVER () AS total "
    "FROM ({query} LIMIT %s) AS s(pk)) AS t WHERE n <= %s ORDER BY n"
)
_COUNT = "SELECT count(*) FROM ({query} LIMIT %s) AS s"

MAX_PAGE_OFFSET = 1_000_000  # deeper than this, page numbers make PostgreSQL skip too many rows


def _costly_per_row(queryset: QuerySet) -> bool:
    """Whether the queryset filters on an expression marked `costly_per_row` (the contacts search
    text: an upper-cased concatenation and a LIKE per row). The planner prices it like any operator,
    so a walk of the order testing it row by row looks cheaper than it is (~20 ms to find 26 of
    "Company 777" at 1,000,000 contacts): such a first page keeps the one statement, whose plan for
    1,001 rows takes the trigram index."""
    return any(
        getattr(expression, "costly_per_row", False) for expression in queryset.query.annotations.values()
    )


class _Page(Page):
    more: bool | None = None  # set when the count is an estimate: whether a row follows this page

    def has_next(self) -> bool:
        return super().has_next() if self.more is None else self.more


def _pk(row) -> Any:
    return row["id"] if isinstance(row, dict) else row.pk


class _CappedPaginator(Paginator):
    @cached_property
    def count_and_estimate(self) -> tuple[int, bool]:
        return capped_count(self.object_list)

    @cached_property
    def count(self) -> int:
        return self.count_and_estimate[0]

    def validate_number(self, number):
        if self.count_and_estimate[1]:  # an estimate does not bound the pages: past the end is empty
            number = super().validate_number(1) and int(number)
            if (number - 1) * self.per_page > MAX_PAGE_OFFSET:
                raise ValidationError(
                    {"page": [f"Past {MAX_PAGE_OFFSET:,} rows, page with ?cursor= instead."]}
                )
            return number
        return super().validate_number(number)

    def page(self, number):
        if number == 1 and "count_and_estimate" not in self.__dict__:
            return self._first_page()
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        if not self.count_and_estimate[1]:
            return self._get_page(self.object_list[bottom : bottom + self.per_page], number, self)
        # The estimate may be short of the real count: whether a next page exists is read from one
        # more row, never from the estimated number of pages.
        rows = list(self.object_list[bottom : bottom + self.per_page + 1])
        page = self._get_page(rows[: self.per_page], number, self)
        page.more = len(rows) > self.per_page
        return page

    def _first_page(self):
        """Page 1 on PostgreSQL, with the count capped at API_COUNT_EXACT_LIMIT + 1, in the cheaper of
        two ways the planner's plan for the page tells apart (EXPLAIN, kept per process):

        - The plan sorts (a trigram search's bitmap, a hash join): every match is found before the
          first row anyway, so one statement gives the page's ids and the capped count (a window
          count over the first ids in order) and the filter runs once.
        - The plan walks an index in order and stops after the page's matches (a tag, a consent, a
          country): counting in that order would walk on to the 1,001st match (~20 ms for a tag of
          one contact in eight at 100,000); the count runs apart, unordered, in whatever way is
          cheapest to find 1,001 matches (the tag's own index), and the page keeps its walk. Not
          for a filter costly per row (see _costly_per_row).

        In the first way the page's rows are then read by id; in the second the page statement reads
        them itself. Where the planner expects at least
        API_COUNT_ESTIMATE_TRUSTED_ABOVE rows (a list of 250,000, a country), nothing is counted:
        only the page's ids are read and the estimate is the count (flagged). A full page proves
        there is more; a short one is the exact count, whatever was expected."""
        queryset = self.object_list
        if (
            not isinstance(queryset, QuerySet)
            or queryset.query.distinct
            or connections[queryset.db].vendor != "postgresql"
        ):
            return self._page_counted(1)
        limit = max(settings.API_COUNT_EXACT_LIMIT, self.per_page)
        try:
            sql, params = queryset.values_list("pk").query.sql_with_params()
        except EmptyResultSet:  # e.g. .none(): nothing to read
            self.__dict__["count_and_estimate"] = (0, False)
            return self._get_page([], 1, self)
        expected, sorts_all = page_plan(queryset, self.per_page + 1, (sql, params))
        counting = expected < settings.API_COUNT_ESTIMATE_TRUSTED_ABOVE
        with connections[queryset.db].cursor() as cursor:
            # The inner statements are the ORM's own SQL for this queryset; values stay parameters.
            if counting and (sorts_all or _costly_per_row(queryset)):
                cursor.execute(_PAGE_AND_COUNT.format(query=sql), [*params, limit + 1, self.per_page + 1])
                found = cursor.fetchall()
                ids, total = [row[0] for row in found], (found[0][1] if found else 0)
                by_id = {_pk(row): row for row in queryset.filter(pk__in=ids[: self.per_page])}
                rows = [by_id[pk] for pk in ids[: self.per_page] if pk in by_id]  # gone since: left out
            else:
                # The page itself, rows and all, in one statement (no ids first: nothing to count with it).
                found = list(queryset[: self.per_page + 1])
                ids, rows, total = [_pk(row) for row in found], found[: self.per_page], len(found)
                if counting and total > self.per_page:
                    unordered, more_params = queryset.order_by().values_list("pk").query.sql_with_params()
                    cursor.execute(_COUNT.format(query=unordered), [*more_params, limit + 1])
                    total = cursor.fetchone()[0]
        if total <= (limit if counting else self.per_page):
            self.__dict__["count_and_estimate"] = (total, False)
        else:
            self.__dict__["count_and_estimate"] = (max(expected, total), True)
        page = self._get_page(rows, 1, self)
        if self.count_and_estimate[1]:
            page.more = len(ids) > self.per_page
        return page

    def _page_counted(self, number):
        self.__dict__.setdefault("count_and_estimate", capped_count(self.object_list))
        return self.page(number)

    def _get_page(self, *args, **kwargs):
        return _Page(*args, **kwargs)


def _signer(keys: list[tuple[str, bool]], scope: str) -> signing.Signer:
    # Salted with the ordering and the scope (the endpoint and the tenant): a cursor only works where
    # it was made, for the ordering it was made for (the tags list's cursor on the lists list skipped
    # rows silently; another tenant's was taken as a position).
    order = ",".join(f"{'-' if d else ''}{n}" for n, d in keys)
    return signing.Signer(salt=f"cursor:{scope}:{order}")


def _scope(request) -> str:
    """The endpoint (with its URL's ids: one list's members are not another's) and the tenant."""
    match = getattr(request, "resolver_match", None)
    where = (
        f"{match.view_name}{sorted((k, _id_key(v)) for k, v in match.kwargs.items())}"
        if match
        else request.path
    )
    tenant = get_current_tenant()
    return f"{where}:{tenant.pk if tenant else ''}"


def _id_key(value: Any) -> Any:
    """An id of the URL as one spelling (capitals, braces, no dashes are the same contact)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return value


def _encode(keys: list[tuple[str, bool]], values: list[Any], scope: str) -> str:
    """Signed: a client can hand back only a position the server gave it (no value of a wrong type
    or with a NUL byte ever reaches the query)."""
    return _signer(keys, scope).sign_object([_plain(v) for v in values], compress=True)


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _decode(cursor: str, keys: list[tuple[str, bool]], scope: str) -> list[Any]:
    try:
        values = _signer(keys, scope).unsign_object(cursor)
        if not isinstance(values, list) or len(values) != len(keys):
            raise ValueError
        return [dt.datetime.fromisoformat(v["t"]) if isinstance(v, dict) else v for v in values]
    except (signing.BadSignature, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise ValidationError(
            {CURSOR_PARAM: ["Invalid cursor: pass next_cursor of the previous page as it is, with the same "
                            "ordering."]}
        ) from None  # fmt: skip


def _ordering(queryset: QuerySet) -> list[tuple[str, bool]]:
    """[(field, descending)], ending with the primary key (added when missing)."""
    order = list(queryset.query.order_by) or list(queryset.model._meta.ordering or [])
    keys = []
    for term in order:
        if not isinstance(term, str):
            raise TypeError("Keyset paging needs field-name orderings.")
        name = term.lstrip("-")
        keys.append(("pk" if name == "id" else name, term.startswith("-")))
    if not keys or keys[-1][0] != "pk":
        keys.append(("pk", keys[-1][1] if keys else True))
    return keys


def _explicit_order(keys: list[tuple[str, bool]]) -> list:
    """The ordering with PostgreSQL's null placement spelled out (NULLS LAST ascending, NULLS FIRST
    descending), whatever the database."""
    return [F(name).desc(nulls_first=True) if desc else F(name).asc(nulls_last=True) for name, desc in keys]


def _after(keys: list[tuple[str, bool]], values: list[Any]) -> Q:
    """Rows after `values` in this ordering, with PostgreSQL's null placement (NULLS LAST when
    ascending, NULLS FIRST when descending)."""
    condition = Q(pk__in=[])
    equal = Q()
    # A bound on the first key alone, redundant but indexable: the scan starts at the cursor instead
    # of filtering every row before it.
    (first, desc), value = keys[0], values[0]
    bound = Q() if value is None else Q(**{f"{first}__lte" if desc else f"{first}__gte": value})
    if value is not None and not desc:
        bound |= Q(**{f"{first}__isnull": True})
    for (name, desc), value in zip(keys, values, strict=True):
        if value is None:
            beyond = Q(**{f"{name}__isnull": False}) if desc else Q(pk__in=[])
            same = Q(**{f"{name}__isnull": True})
        else:
            beyond = Q(**{f"{name}__lt" if desc else f"{name}__gt": value})
            if not desc:
                beyond |= Q(**{f"{name}__isnull": True})
            same = Q(**{name: value})
        condition |= equal & beyond
        equal &= same
    return bound & condition


class PageNumberPagination(pagination.PageNumberPagination):
    page_size_query_param = "page_size"
    django_paginator_class = _CappedPaginator

    @property
    def max_page_size(self) -> int:
        return settings.API_MAX_PAGE_SIZE

    def get_page_size(self, request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None or raw == "":
            return self.page_size
        try:
            size = int(raw)
        except ValueError as exc:
            raise ValidationError({"page_size": ["Must be a whole number."]}) from exc
        if size < 1 or size > self.max_page_size:
            raise ValidationError({"page_size": [f"Must be between 1 and {self.max_page_size}."]})
        return size

    def get_page_number(self, request, paginator):
        raw = request.query_params.get(self.page_query_param, 1)
        if raw in self.last_page_strings:
            if paginator.count_and_estimate[1]:
                raise ValidationError({"page": ["The count is an estimate: page with ?cursor= instead."]})
            return paginator.num_pages
        try:
            number = int(raw)
        except (TypeError, ValueError) as exc:
            raise ValidationError({"page": ["Must be a whole number."]}) from exc
        if number < 1:
            raise ValidationError({"page": ["Must be 1 or more."]})
        return number

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.keyset = CURSOR_PARAM in request.query_params
        if self.keyset:
            if self.page_query_param in request.query_params:
                raise ValidationError({CURSOR_PARAM: ["Use either page or cursor."]})
            return self._keyset_page(queryset, request)
        try:
            self.keys = _ordering(queryset) if isinstance(queryset, QuerySet) else None
        except TypeError:  # ordered by an expression: page numbers only
            self.keys = None
        if self.keys and connections[queryset.db].vendor != "postgresql":
            # Nulls where PostgreSQL puts them (SQLite sorts them first when ascending), as the
            # cursors of these pages (next_cursor) and keyset pages assume.
            queryset = queryset.order_by(*_explicit_order(self.keys))
        return super().paginate_queryset(queryset, request, view)

    def _keyset_page(self, queryset: QuerySet, request) -> list:
        self.page_size = self.get_page_size(request)
        keys = self.keys = _ordering(queryset)
        base = queryset
        cursor = request.query_params.get(CURSOR_PARAM, "")
        if cursor:
            queryset = queryset.filter(_after(keys, _decode(cursor, keys, _scope(request))))
        rows = list(queryset.order_by(*_explicit_order(keys))[: self.page_size + 1])
        self.has_next = len(rows) > self.page_size
        self.rows = rows[: self.page_size]
        if cursor or self.has_next:
            self.count_and_estimate = capped_count(base)
        else:  # the first page holds every row: that is the count
            self.count_and_estimate = (len(rows), False)
        return self.rows

    def _cursor_after(self, row) -> str:
        values = []
        for name, _ in self.keys:
            if isinstance(row, dict):  # a .values() row: the ordering's fields are among its keys
                values.append(row["id" if name == "pk" else name])
                continue
            value = row
            for part in name.split("__"):
                value = getattr(value, "pk" if part == "pk" else part)
            values.append(value)
        return _encode(self.keys, values, _scope(self.request))

    def _next_cursor(self) -> str | None:
        if self.keyset:
            return self._cursor_after(self.rows[-1]) if self.has_next else None
        if not self.keys or not self.page.has_next() or not self.page.object_list:
            return None
        return self._cursor_after(list(self.page.object_list)[-1])

    def get_paginated_response(self, data):
        next_cursor = self._next_cursor()
        if self.keyset:
            count, estimate = self.count_and_estimate
            url = self.request.build_absolute_uri()
            next_link = replace_query_param(url, CURSOR_PARAM, next_cursor) if next_cursor else None
            previous = None
        else:
            count, estimate = self.page.paginator.count_and_estimate
            next_link, previous = self.get_next_link(), self.get_previous_link()
        return Response(
            OrderedDict(
                count=count,
                count_is_estimate=estimate,
                next=next_link,
                previous=previous,
                next_cursor=next_cursor,
                results=data,
            )
        )

    def get_paginated_response_schema(self, schema):
        body = super().get_paginated_response_schema(schema)
        body["properties"]["count_is_estimate"] = {
            "type": "boolean",
            "description": "True when count is the planner's estimate (past API_COUNT_EXACT_LIMIT rows).",
        }
        body["properties"]["next_cursor"] = {
            "type": "string",
            "nullable": True,
            "description": "Pass as ?cursor= for the page after this one (keyset paging; ?cursor= with "
            "no value starts at the first page).",
        }
        return body

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:  # bounded (400 outside), empty: the default
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
                parameter["allowEmptyValue"] = True
            elif parameter["name"] == self.page_query_param:  # a number from 1, or "last" (get_page_number)
                parameter["schema"] = {
                    "oneOf": [
                        {"type": "integer", "minimum": 1},
                        {"type": "string", "enum": list(self.last_page_strings)},
                    ]
                }
                parameter["description"] += ' Or "last": the last page, while the count is exact.'
        return [
            *parameters,
            {
                "name": CURSOR_PARAM,
                "required": False,
                "in": "query",
                "description": "Keyset paging: empty for the first page, then next_cursor of the previous "
                "page. Stable while rows are added; not combined with page.",
                "schema": {"type": "string"},
                "allowEmptyValue": True,
            },
        ]


def paging_parameters() -> list:
    """The paging query parameters for extend_schema of a POST action that pages its answer
    (drf-spectacular adds them to list actions only): page, page_size and cursor, as on every list."""
    from drf_spectacular.utils import OpenApiParameter

    from contacts_service.schema import empty_skipped

    parameters = []
    for p in PageNumberPagination().get_schema_operation_parameters(None):
        # The raw schema (bounds, "last"), and allowEmptyValue through empty_skipped.
        built = OpenApiParameter(
            p["name"], p["schema"], OpenApiParameter.QUERY, required=False, description=p["description"]
        )
        parameters.append(empty_skipped(built) if p.get("allowEmptyValue") else built)
    return parameters

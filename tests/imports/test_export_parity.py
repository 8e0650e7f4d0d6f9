"""COPY writer vs portable writer: same bytes for odd values (docs/api.md Exports, How it runs)."""

import datetime as dt
import io

import pytest

from imports import exports
from imports.exports import export_write
from lists.models import ContactList, ListMembership
from tags.models import Tag, TagAssignment
from tests.factories import AttributeDefinitionFactory, ContactFactory

pytestmark = pytest.mark.django_db

# Every column the export offers, and one attribute of each kind.
ALL = [*exports.COLUMNS, "attributes.s", "attributes.n", "attributes.b"]


def both(tenant, columns, delimiter=",", filters=None):
    copy, portable = io.BytesIO(), io.BytesIO()
    a = export_write(
        tenant=tenant, filters=filters or {}, columns=columns, out=copy, use_copy=True, delimiter=delimiter
    )
    b = export_write(
        tenant=tenant,
        filters=filters or {},
        columns=columns,
        out=portable,
        use_copy=False,
        delimiter=delimiter,
    )
    return copy.getvalue().decode(), portable.getvalue().decode(), a, b


ODD = [
    "plain",
    "comma, inside",
    'quote " inside',
    "line\nbreak",
    "crlf\r\nx",
    "semi;colon",
    "tab\tinside",
    "pipe|x",
    "=1+2",
    "+33",
    "-5",
    "@SUM",
    "\tlead",
    "ünïcödé ✓ 𝄞",
    "\x01\x02ctrl",
    "\\.",
    " =space",
    "x" * 20000,
    "",
    "'already",
]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_odd_text_values_same_bytes(tenant, delimiter):
    AttributeDefinitionFactory(tenant=tenant, key="s")
    AttributeDefinitionFactory(tenant=tenant, key="n", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="b", type="boolean")
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for n, value in enumerate(ODD):
        c = ContactFactory(
            tenant=tenant,
            email=f"c{n}@x.example",
            first_name=value[:100],
            company=value[:100],
            city=value[:100],
            external_id=value[:100],
            attributes={"s": value, "n": n - 3, "b": n % 2 == 0},
            created_at=base + dt.timedelta(seconds=n, microseconds=999999),
        )
        if value:
            t = Tag.objects.for_tenant(tenant).create(tenant=tenant, name=f"{value[:90]}{n}")
            TagAssignment.objects.for_tenant(tenant).create(tenant=tenant, tag=t, contact=c)
            lst = ContactList.objects.for_tenant(tenant).create(tenant=tenant, name=f"{value[:90]}{n}")
            ListMembership.objects.for_tenant(tenant).create(tenant=tenant, contact_list=lst, contact=c)
    copy, portable, a, b = both(tenant, ALL, delimiter)
    assert a == b == len(ODD)
    assert copy == portable


@pytest.mark.parametrize("column", ["first_name", "attributes.s", "tags", "email"])
def test_single_column_odd_values_same_bytes(tenant, column):
    AttributeDefinitionFactory(tenant=tenant, key="s")
    for n, value in enumerate(["\\.", "", "x", "a,b"]):
        c = ContactFactory(
            tenant=tenant,
            email=f"{value}{n}@x.example" if column != "email" else value,
            first_name=value,
            attributes={"s": value},
        )
        if value:
            t = Tag.objects.for_tenant(tenant).create(tenant=tenant, name=value)
            TagAssignment.objects.for_tenant(tenant).create(tenant=tenant, tag=t, contact=c)
    copy, portable, _a, _b = both(tenant, [column])
    assert copy == portable  # COPY quotes a lone \\. (end-of-data marker), the csv module does not


def test_portable_writer_quotes_a_cell_holding_a_lone_carriage_return(tenant):
    """docs: cells quoted when they hold a line break; a bare CR unquoted splits the row on reading."""
    import csv

    ContactFactory(tenant=tenant, email="a@x.example", first_name="cr\rinside", city="Paris")
    out = io.BytesIO()
    n = export_write(
        tenant=tenant, filters={}, columns=["email", "first_name", "city"], out=out, use_copy=False
    )
    rows = list(csv.reader(io.StringIO(out.getvalue().decode(), newline="")))
    assert n == 1
    assert rows == [["email", "first_name", "city"], ["a@x.example", "cr\rinside", "Paris"]]


def test_number_attribute_negative_zero_same_bytes(tenant):
    AttributeDefinitionFactory(tenant=tenant, key="n", type="number")
    for n, value in enumerate([-0.0, 1.50, 10, 2.0, 1e16, 0.30000000000000004, True, "7", None]):
        ContactFactory(tenant=tenant, email=f"c{n}@x.example", attributes={"n": value})
    copy, portable, _a, _b = both(tenant, ["email", "attributes.n"])
    assert copy == portable

"""Insert many model instances at once: COPY on PostgreSQL, bulk_create elsewhere.

Django's bulk_create on PostgreSQL sends arrays (UNNEST) whose text escaping runs in Python;
for the thousands of rows an import batch writes (contacts, history, timeline, outbox) COPY is
several times faster. Instances must be complete (defaults applied by their constructors);
a primary key left None (bigint serial) is filled by the database and not read back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from django.db import connection, models
from django.db.models.fields.json import JSONField


def bulk_insert(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create(objs)
        return
    pk = model._meta.pk
    fields = [f for f in model._meta.concrete_fields if not (f is pk and getattr(objs[0], f.attname) is None)]
    convert = []
    for f in fields:
        if isinstance(f, JSONField):
            convert.append(lambda value: None if value is None else json.dumps(value))
        else:
            convert.append(lambda value, f=f: f.get_db_prep_save(value, connection))
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    attnames = [f.attname for f in fields]
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for obj in objs:
            copy.write_row([conv(getattr(obj, name)) for conv, name in zip(convert, attnames, strict=True)])


def bulk_insert_values(model: type[models.Model], attnames: Sequence[str], rows: Sequence[Sequence]) -> None:
    """bulk_insert from plain tuples (values in `attnames` order): no model instance per row, for
    the tens of thousands of history rows an import writes."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create([model(**dict(zip(attnames, row, strict=True))) for row in rows])
        return
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    fields = [by_attname[name] for name in attnames]
    json_at = [i for i, f in enumerate(fields) if isinstance(f, JSONField)]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            values = list(row)
            for i in json_at:
                values[i] = None if values[i] is None else json.dumps(values[i])
            copy.write_row(values)

"""Insert many model instances at once: COPY on PostgreSQL, bulk_create elsewhere.

Django's bulk_create on PostgreSQL sends arrays (UNNEST) whose text escaping runs in Python;
for the thousands of rows an import batch writes (contacts, history, timeline, outbox) COPY is
several times faster. Instances must be complete (defaults applied by their constructors);
a primary key left None (bigint serial) is filled by the database and not read back.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import orjson
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
    attnames = [f.attname for f in fields]
    _copy(model, fields, ([getattr(obj, name) for name in attnames] for obj in objs))


def _copy(model: type[models.Model], fields: Sequence[models.Field], rows: Iterable[Sequence]) -> None:
    """COPY rows (values in `fields` order) into the model's table, preparing only what psycopg
    cannot write as is."""
    convert = [_json_memo() if isinstance(f, JSONField) else _converter(f) for f in fields]
    converted = [(i, conv) for i, conv in enumerate(convert) if conv is not None]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(model._meta.db_table)
    with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            values = list(row)
            for i, conv in converted:
                values[i] = conv(values[i])
            copy.write_row(values)


# Fields whose Python value psycopg writes as is (get_db_prep_save would return it unchanged, at
# a cost that shows when an import writes hundreds of thousands of values).
_AS_IS = (
    models.UUIDField,
    models.CharField,
    models.TextField,
    models.BooleanField,
    models.IntegerField,
    models.BigIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.AutoField,
    models.BigAutoField,
    models.DateTimeField,
    models.ForeignKey,
)


def _converter(f: models.Field):
    if isinstance(f, JSONField):
        return _json
    if type(f) in _AS_IS:  # exactly these classes: a subclass may prepare its values
        return None
    return lambda value, f=f: f.get_db_prep_save(value, connection)


def _dumps(value, _orjson=orjson.dumps, _option=orjson.OPT_NON_STR_KEYS) -> str:
    """JSON text of a value for a jsonb column: orjson (the event envelopes, history and timeline
    data of an import batch took ~9% of its time in the json module), json for what orjson refuses
    (an integer past 64 bits). The text differs only in spacing: jsonb does not keep it; the outbox's
    `json` column does, and its readers parse it."""
    try:
        return _orjson(value, option=_option).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value)


def _json(value, _dumps=_dumps):
    return None if value is None else _dumps(value)


def _json_memo():
    """json.dumps that encodes a dict or list shared by many rows (the actor of every row of an
    import batch) once. Keyed by id(): the rows keep their values alive for the whole COPY."""
    memo: dict[int, str] = {}

    def dumps(value, _dumps=_dumps):
        if value is None:
            return None
        if isinstance(value, dict | list):
            text = memo.get(id(value))
            if text is None:
                text = memo[id(value)] = _dumps(value)
            return text
        return _dumps(value)

    return dumps


def bulk_insert_values(model: type[models.Model], attnames: Sequence[str], rows: Sequence[Sequence]) -> None:
    """bulk_insert from plain tuples (values in `attnames` order): no model instance per row, for
    the tens of thousands of history rows an import writes."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_create([model(**dict(zip(attnames, row, strict=True))) for row in rows])
        return
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    _copy(model, [by_attname[name] for name in attnames], rows)


def bulk_update(model: type[models.Model], objs: Sequence[models.Model], fields: Sequence[str]) -> None:
    """Write `fields` of many instances in one UPDATE ... FROM unnest(arrays) on PostgreSQL (one
    array per column), where Django's bulk_update builds a CASE per field and row whose compiling
    cost more than the statement (0.5 s for 50 contacts of an import batch); bulk_update elsewhere."""
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._base_manager.bulk_update(objs, fields)
        return
    by_name = {f.name: f for f in model._meta.concrete_fields}
    pk = model._meta.pk
    targets = [by_name[name] for name in fields]
    quote = connection.ops.quote_name
    selects, params = (
        [f"unnest(%s::{pk.db_type(connection)}[]) AS {quote(pk.column)}"],
        [[o.pk for o in objs]],
    )
    for f in targets:
        conv = _converter(f)
        values = [getattr(o, f.attname) for o in objs]
        if conv is not None:
            values = [conv(v) for v in values]
        if isinstance(f, JSONField):
            selects.append(f"unnest(%s::text[])::jsonb AS {quote(f.column)}")
        else:
            selects.append(f"unnest(%s::{f.cast_db_type(connection)}[]) AS {quote(f.column)}")
        params.append(values)
    table = quote(model._meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in targets)
    key = quote(pk.column)
    sql = f"UPDATE {table} AS t SET {assignments} FROM (SELECT {', '.join(selects)}) AS v WHERE t.{key} = v.{key}"  # noqa: S608, E501 (names from the model)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)

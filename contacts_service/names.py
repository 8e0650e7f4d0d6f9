"""Names unique per tenant ignoring case (tags, lists): cleaning and the clash check."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from django.db import connection
from django.db.models import QuerySet, Value
from django.db.models.functions import Lower

from contacts_service.errors import ValidationFailed


def db_name_keys(names: Sequence[str]) -> list[str]:
    """name_key of each name as the database lower-cases it: what lower(name), which the unique
    indexes use, is compared with (Python's str.lower differs on a few letters: "İ", a final sigma)."""
    collapsed = [" ".join(name.split()) for name in names]
    if not collapsed:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT lower(n) FROM unnest(%s::text[]) WITH ORDINALITY AS t(n, i) ORDER BY i", [collapsed]
            )
            return [row[0] for row in cursor.fetchall()]
        keys = []
        for name in collapsed:
            cursor.execute("SELECT lower(%s)", [name])
            keys.append(cursor.fetchone()[0])
        return keys


def name_key(name: str) -> str:
    """What names clash on: whitespace collapsed (as name_clean does), any case."""
    return " ".join(name.split()).lower()


def name_clean(name: str | None, *, label: str, field: str = "name", max_length: int | None = None) -> str:
    """Collapse whitespace; refuse blank, over-long or NUL-bearing names with a 400 on `field`."""
    cleaned = " ".join((name or "").split())
    if not cleaned:
        raise ValidationFailed([{"field": field, "code": "blank", "message": f"A {label} needs a name."}])
    if max_length is not None and len(cleaned) > max_length:
        raise ValidationFailed(
            [{"field": field, "code": "max_length", "message": f"At most {max_length} characters."}]
        )
    if "\x00" in cleaned:
        raise ValidationFailed(
            [{"field": field, "code": "invalid", "message": "Must not contain NUL characters."}]
        )
    return cleaned


def name_check_free(queryset: QuerySet, name: str, *, label: str, exclude: uuid.UUID | None = None) -> None:
    """400 naming the holder when another row of `queryset` (one tenant's) has this name in any case."""
    # As the unique indexes compare names: lower(name), in PostgreSQL (where a Kelvin sign and a "k"
    # are the same name; UPPER, which iexact uses, keeps them apart).
    clash = queryset.alias(name_key=Lower("name")).filter(name_key=Lower(Value(name)))
    if exclude:
        clash = clash.exclude(pk=exclude)
    holder = clash.values_list("pk", flat=True).first()
    if holder:
        raise ValidationFailed(
            [
                {
                    "field": "name",
                    "code": "unique",
                    "message": f"{label} {holder} already has this name (ignoring case).",
                }
            ]
        )

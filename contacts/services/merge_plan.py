"""What a merge makes of the primary: each field and attribute resolved by the chosen values and the
strategy, without touching the database (merge, dry-run and preview share it).

Strategies, for every field and custom attribute not named in `fields`:
  keep_primary   the primary's value, even when empty;
  fill_empty     the primary's value, or when empty the first non-empty one of the others (in
                 the order given);
  newest_wins    the value of the most recently updated contact that has one;
  manual_review  like fill_empty, but two different non-empty values are a conflict that `fields`
                 must settle (a 400 naming each unsettled field).
`display_name` follows the names (derived again) unless chosen in `fields` (it then becomes custom)
or the primary's is custom. The primary keeps its created_at; last_activity_at is the latest of all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contacts.models import Contact, MergeStrategy
from contacts.normalization import derive_display_name
from contacts.services.recording import PUBLIC_FIELDS
from contacts_service.errors import ValidationFailed

# Fields a merge resolves (display_name separately); PUBLIC_FIELDS minus display_name and attributes.
MERGE_FIELDS = (
    "email", "first_name", "last_name", "company", "phone", "country", "city", "status", "source",
    "external_id",
)  # fmt: skip
ATTRIBUTE_PREFIX = "attributes."


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


@dataclass
class MergePlan:
    """The primary's values after the merge, where each came from, and what conflicted."""

    strategy: str
    values: dict[str, Any]  # MERGE_FIELDS + display_name
    display_name_custom: bool
    attributes: dict[str, Any]
    last_activity_at: Any
    sources: dict[str, str]  # field or attributes.<key> -> id of the contact the value came from
    conflicts: list[str]  # fields (and attributes.<key>) where contacts hold different non-empty values
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # PUBLIC_FIELDS of the primary

    def apply_to(self, contact: Contact) -> None:
        for name, value in self.values.items():
            setattr(contact, name, value)
        contact.display_name_custom = self.display_name_custom
        contact.attributes = self.attributes
        contact.last_activity_at = self.last_activity_at


def check_fields(
    *, fields: Mapping[str, Any], contact_ids: list[uuid.UUID], attribute_keys: set[str]
) -> dict[str, uuid.UUID]:
    """`fields` as {field: contact id}; every problem is a 400 naming fields.<name>."""
    errors, chosen = [], {}
    allowed = {str(i): i for i in contact_ids}
    for name, source in fields.items():
        path = f"fields.{name}"
        if name.startswith(ATTRIBUTE_PREFIX):
            if name[len(ATTRIBUTE_PREFIX) :] not in attribute_keys:
                errors.append(
                    {"field": path, "code": "invalid", "message": "No merged contact has this attribute."}
                )
                continue
        elif name not in (*MERGE_FIELDS, "display_name"):
            errors.append(
                {"field": path, "code": "invalid",
                 "message": f"Not a mergeable field; one of {', '.join((*MERGE_FIELDS, 'display_name'))} "
                            "or attributes.<key>."}
            )  # fmt: skip
            continue
        if str(source) not in allowed:
            errors.append(
                {"field": path, "code": "invalid",
                 "message": "Must be the id of the primary or of one of the others."}
            )  # fmt: skip
            continue
        chosen[name] = allowed[str(source)]
    if errors:
        raise ValidationFailed(errors)
    return chosen


def _same_key(value: Any) -> tuple:
    """What two values are the same on: a number by its value (1 and 1.0 are one number, as in JSON),
    anything else by its repr (true is not 1; lists and objects compare whole)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return ("number", Decimal(repr(value)) if isinstance(value, float) else Decimal(value))
    return ("repr", repr(value))


def _resolve(
    name: str, values: list[tuple[Contact, Any]], strategy: str, chosen: dict[str, uuid.UUID]
) -> tuple[Contact, Any, bool]:
    """(source contact, value, conflict) for one field; values[0] is the primary's."""
    distinct = {_same_key(v) for _, v in values if not _empty(v)}
    conflict = len(distinct) > 1
    if name in chosen:
        return (*next((c, v) for c, v in values if c.pk == chosen[name]), conflict)
    primary = values[0]
    if strategy == MergeStrategy.KEEP_PRIMARY:
        return (*primary, conflict)
    if strategy == MergeStrategy.NEWEST_WINS:
        filled = [cv for cv in values if not _empty(cv[1])]
        # sorted() is stable: on equal times the primary (first) wins.
        newest = sorted(filled, key=lambda cv: cv[0].updated_at, reverse=True)
        return (*(newest[0] if newest else primary), conflict)
    # fill_empty and manual_review (whose unsettled conflicts the caller refuses)
    if not _empty(primary[1]):
        return (*primary, conflict)
    first = next((cv for cv in values[1:] if not _empty(cv[1])), primary)
    return (*first, conflict)


def merge_plan(
    *,
    primary: Contact,
    others: list[Contact],
    strategy: str,
    chosen: dict[str, uuid.UUID],
    required: set[str] | frozenset[str] = frozenset(),
) -> MergePlan:
    """Resolve every field and attribute; a manual_review merge with an unsettled conflict is a 400,
    and so is one that would remove a `required` attribute the primary holds (as a PATCH would)."""
    contacts = [primary, *others]
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    conflicts: list[str] = []
    for name in MERGE_FIELDS:
        source, value, conflict = _resolve(name, [(c, getattr(c, name)) for c in contacts], strategy, chosen)
        values[name], sources[name] = value, str(source.pk)
        if conflict:
            conflicts.append(name)
    attributes: dict[str, Any] = {}
    keys = sorted({key for c in contacts for key in (c.attributes or {})})
    for key in keys:
        name = f"{ATTRIBUTE_PREFIX}{key}"
        pairs = [(c, (c.attributes or {}).get(key)) for c in contacts]
        source, value, conflict = _resolve(name, pairs, strategy, chosen)
        if not _empty(value) or (value is not None and key in (source.attributes or {})):
            attributes[key] = value
        sources[name] = str(source.pk)
        if conflict:
            conflicts.append(name)
    removed = sorted(key for key in required if key in (primary.attributes or {}) and key not in attributes)
    if removed:
        raise ValidationFailed(
            [{"field": f"fields.{ATTRIBUTE_PREFIX}{key}", "code": "required",
              "message": "A required attribute cannot be removed: choose a contact that has a value."}
             for key in removed]
        )  # fmt: skip
    if strategy == MergeStrategy.MANUAL_REVIEW:
        unsettled = [name for name in conflicts if name not in chosen]
        if unsettled:
            raise ValidationFailed(
                [{"field": f"fields.{name}", "code": "required",
                  "message": "Contacts hold different values: choose the contact whose value to keep "
                             "(manual_review)."} for name in unsettled]
            )  # fmt: skip
    if "display_name" in chosen:
        source = next(c for c in contacts if c.pk == chosen["display_name"])
        # A chosen name is kept as it is, even when the contact it comes from derives its own.
        values["display_name"], custom = source.display_name, True
        sources["display_name"] = str(source.pk)
    elif primary.display_name_custom:
        values["display_name"], custom = primary.display_name, True
        sources["display_name"] = str(primary.pk)
    else:
        custom = False
    if not custom:
        values["display_name"] = derive_display_name(
            first_name=values["first_name"], last_name=values["last_name"], email=values["email"],
            phone=values["phone"], company=values["company"],
        )  # fmt: skip
    if not (values["email"] or values["phone"] or values["external_id"]):
        raise ValidationFailed(
            [{"field": "fields", "code": "required",
              "message": "The merged contact would have no email, phone or external_id."}]
        )  # fmt: skip
    activity = [c.last_activity_at for c in contacts if c.last_activity_at]
    plan = MergePlan(
        strategy=strategy, values=values, display_name_custom=custom, attributes=attributes,
        last_activity_at=max(activity) if activity else None, sources=sources, conflicts=conflicts,
    )  # fmt: skip
    after = {**values, "attributes": attributes}
    plan.changes = {
        name: (getattr(primary, name), after[name])
        for name in PUBLIC_FIELDS
        if getattr(primary, name) != after[name]
    }
    return plan

"""Dynamic segment rules: validation and compilation to one Q over contacts.

    {"operator": "and", "rules": [
        {"field": "country", "op": "eq", "value": "FR"},
        {"field": "attributes.score", "op": "gt", "value": 10},
        {"field": "tags", "op": "any", "value": ["VIP", "Lead"]},
        {"field": "created_at", "op": "in_last_days", "value": 30},
        {"operator": "or", "rules": [...]}]}

The same compiler serves preview, stored-membership refresh and rebuild. Every problem is
reported with the path of the rule (`rules.rules.2.value`), all at once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from contacts.models import AttributeDefinition, AttributeLookup, AttributeType, ContactStatus
from contacts.normalization import ISO_DAY, FieldError, canonical_email, normalize_phone, reject_nul
from contacts_service.errors import ValidationFailed
from contacts_service.models import Tenant
from contacts_service.names import db_name_keys

MAX_DEPTH = 5
MAX_RULES = 100
TEXT_FIELDS = {"email", "first_name", "last_name", "display_name", "company", "phone", "country", "city",
               "source", "external_id", "status"}  # fmt: skip
DATE_FIELDS = {"created_at", "updated_at", "last_activity_at"}
TEXT_OPS = {"eq", "neq", "contains", "starts_with", "is_empty", "is_not_empty", "in", "not_in"}
NUMBER_OPS = {"eq", "neq", "lt", "gt", "lte", "gte", "is_empty", "is_not_empty", "in", "not_in"}
DATE_OPS = {"before", "after", "in_last_days", "is_empty", "is_not_empty"}
BOOLEAN_OPS = {"eq", "neq", "is_empty", "is_not_empty"}
TAG_OPS = {"any", "all", "none"}
LIST_OPS = {"in", "not_in"}
CONSENT_OPS = {"eq", "neq", "in", "not_in", "is_empty", "is_not_empty"}
ACTIVITY_OPS = {"had", "not_had"}


class _Invalid(Exception):
    def __init__(self, path: str, message: str):
        self.path, self.message = path, message


@dataclass
class _Compiler:
    tenant: Tenant
    definitions: dict[str, AttributeDefinition]
    errors: list[dict[str, str]] = field(default_factory=list)
    count: int = 0
    # Rules read back from a segment (its upkeep) rather than sent to be saved: the checks added after
    # rules were first stored (status values in a list, dates as YYYY-MM-DD only) do not apply, so a
    # segment saved before them keeps following contacts as it did; saving its rules again applies them.
    stored: bool = False

    def group(self, node: Any, path: str, depth: int) -> Q:
        if not isinstance(node, dict):
            raise _Invalid(path, "A group must be an object with operator and rules.")
        if depth > MAX_DEPTH:
            raise _Invalid(path, f"Groups nest at most {MAX_DEPTH} deep.")
        operator = node.get("operator", "and")
        if operator not in ("and", "or"):
            raise _Invalid(f"{path}.operator", "Must be and or or.")
        unknown = set(node) - {"operator", "rules"}
        if unknown:
            raise _Invalid(path, f"Unknown keys: {', '.join(sorted(map(str, unknown)))}.")
        rules = node.get("rules")
        if not isinstance(rules, list) or not rules:
            raise _Invalid(f"{path}.rules", "Must be a non-empty list of rules or groups.")
        combined = Q()
        for index, child in enumerate(rules):
            child_path = f"{path}.rules.{index}"
            try:
                if isinstance(child, dict) and "rules" in child:
                    q = self.group(child, child_path, depth + 1)
                else:
                    q = self.rule(child, child_path)
            except _Invalid as exc:
                self.errors.append({"field": exc.path, "code": "invalid_rule", "message": exc.message})
                continue
            combined = (combined & q) if operator == "and" else (combined | q)
        return combined

    def rule(self, node: Any, path: str) -> Q:
        self.count += 1
        if self.count > MAX_RULES:
            raise _Invalid(path, f"At most {MAX_RULES} rules.")
        if not isinstance(node, dict) or "field" not in node or "op" not in node:
            raise _Invalid(path, "A rule is an object with field, op and (usually) value.")
        unknown = set(node) - {"field", "op", "value"}
        if unknown:
            raise _Invalid(path, f"Unknown keys: {', '.join(sorted(map(str, unknown)))}.")
        try:  # PostgreSQL text (and the rules' jsonb) cannot hold a NUL
            reject_nul(node, path)
        except FieldError as exc:
            raise _Invalid(exc.field, exc.message) from None
        name, op, value = node["field"], node["op"], node.get("value")
        if not isinstance(name, str):
            raise _Invalid(f"{path}.field", "Must be a string.")
        if name in TEXT_FIELDS:
            return self.text(name, op, value, path)
        if name in DATE_FIELDS:
            return self.date(name, op, value, path)
        if name.startswith("attributes."):
            return self.attribute(name.removeprefix("attributes."), op, value, path)
        if name == "tags":
            return self.tags(op, value, path)
        if name == "lists":
            return self.lists(op, value, path)
        if name.startswith("consent."):
            return self.consent(name, op, value, path)
        if name == "activity":
            return self.activity(op, value, path)
        raise _Invalid(f"{path}.field", f"Unknown field {name!r}.")

    @staticmethod
    def _check_op(op: Any, allowed: set[str], path: str) -> None:
        if not isinstance(op, str) or op not in allowed:
            raise _Invalid(f"{path}.op", f"Must be one of: {', '.join(sorted(allowed))}.")

    def text(self, name: str, op: str, value: Any, path: str) -> Q:
        self._check_op(op, TEXT_OPS, path)
        if op in ("is_empty", "is_not_empty"):
            empty = Q(**{f"{name}__isnull": True}) | Q(**{name: ""})
            return empty if op == "is_empty" else ~empty
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                raise _Invalid(f"{path}.value", "Must be a non-empty list of strings.")
            values = [self._text_value(name, v, exact=True) for v in value]
            if name == "status" and not self.stored and not set(values) <= set(ContactStatus.values):
                raise _Invalid(f"{path}.value", f"Each must be one of: {', '.join(ContactStatus.values)}.")
            q = Q(**{f"{name}__in": values})
            return q if op == "in" else ~q
        if not isinstance(value, str):
            raise _Invalid(f"{path}.value", "Must be a string.")
        value = self._text_value(name, value, exact=op in ("eq", "neq"))
        if name == "status" and op in ("eq", "neq") and value not in ContactStatus.values:
            raise _Invalid(f"{path}.value", f"Must be one of: {', '.join(ContactStatus.values)}.")
        if op == "eq":
            return Q(**{name: value})
        if op == "neq":
            return ~Q(**{name: value})
        if op == "contains":
            return Q(**{f"{name}__icontains": value})
        return Q(**{f"{name}__istartswith": value})

    @staticmethod
    def _text_value(name: str, value: str, *, exact: bool) -> str:
        """A value as the contacts filters read it: an email in any spelling of its domain, a whole
        phone number in any way the API accepts it (E.164; a fragment is compared as written). A whole
        value is trimmed as stored values are; a fragment (contains, starts_with) keeps its spaces:
        "Ann " is the start of "Ann Lee", not of "Anne" (a phone and a country, stored without spaces,
        are trimmed whatever the operator)."""
        if exact or name in ("phone", "country"):
            value = value.strip()
        if name == "email":
            return canonical_email(value)
        if name == "phone" and exact:
            try:
                return normalize_phone(value) or value
            except FieldError:
                return value  # not a number in international form: matches what is stored as written
        if name == "country":
            return value.upper()
        return value

    def date(self, name: str, op: str, value: Any, path: str) -> Q:
        self._check_op(op, DATE_OPS, path)
        if op in ("is_empty", "is_not_empty"):
            q = Q(**{f"{name}__isnull": True})
            return q if op == "is_empty" else ~q
        if op == "in_last_days":
            # A rolling window of `value` x 24 hours up to now (0 would be an empty window: nobody,
            # ever), as the activity rule's in_last_days.
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 36500:
                raise _Invalid(f"{path}.value", "Must be a whole number of days from 1 to 36500.")
            return Q(**{f"{name}__gte": timezone.now() - dt.timedelta(days=value)})
        moment = self._moment(value, path)
        return Q(**{f"{name}__lt" if op == "before" else f"{name}__gt": moment})

    @staticmethod
    def _moment(value: Any, path: str) -> dt.datetime:
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value)
                if parsed is None and (day := parse_date(value)) is not None:
                    parsed = dt.datetime.combine(day, dt.time.min)
            except ValueError:
                parsed = None
            if parsed is not None:
                if not timezone.is_aware(parsed):
                    return timezone.make_aware(parsed, dt.UTC)
                try:  # PostgreSQL takes offsets only up to +-15:59 (Python up to +-23:59): hand it UTC
                    return parsed.astimezone(dt.UTC)
                except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
                    pass
        raise _Invalid(f"{path}.value", "Must be an ISO 8601 date or date-time.")

    def attribute(self, key: str, op: str, value: Any, path: str) -> Q:
        definition = self.definitions.get(key)
        if definition is None:
            raise _Invalid(f"{path}.field", f"Unknown attribute {key!r}.")
        has_key = Q(attributes__has_key=key)
        kind = definition.type
        allowed = {
            AttributeType.NUMBER: NUMBER_OPS,
            AttributeType.BOOLEAN: BOOLEAN_OPS,
            AttributeType.DATE: {"eq", "neq", "before", "after", "is_empty", "is_not_empty"},
        }.get(kind, TEXT_OPS)
        self._check_op(op, allowed, path)

        def lookup(name: str, operand: Any) -> Q:  # attributes__<key>__<name>, for any key
            return Q(AttributeLookup(key, name, operand))

        if op in ("is_empty", "is_not_empty"):
            empty = ~has_key | lookup("isnull", True)
            if kind == AttributeType.STRING:  # as a text field: "" is empty too
                empty |= lookup("exact", "")
            return empty if op == "is_empty" else ~empty
        if op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                raise _Invalid(f"{path}.value", "Must be a non-empty list.")
            q = has_key & lookup(
                "in", [self._whole(definition, self._typed(definition, v, path), path) for v in value]
            )
            return q if op == "in" else ~q
        typed = self._typed(definition, value, path)
        if kind in (AttributeType.STRING, AttributeType.CHOICE) and op in ("contains", "starts_with"):
            # has_key too: without the key the lookup is NULL, and NOT (NULL LIKE ..) keeps a contact
            # that lost the attribute in the segment (exclude(q) never selected it).
            return has_key & lookup("icontains" if op == "contains" else "istartswith", typed)
        if kind == AttributeType.DATE and op in ("before", "after"):
            return has_key & lookup("lt" if op == "before" else "gt", typed)
        name = {"eq": "exact", "neq": "exact", "lt": "lt", "gt": "gt", "lte": "lte", "gte": "gte"}[op]
        q = has_key & lookup(name, self._whole(definition, typed, path))
        # Negative operators are the complement of positive ones: a contact without the attribute is
        # "not equal to 5" (and "not in [..]"), as a contact without a country is "not FR".
        return ~q if op == "neq" else q

    def _whole(self, definition: AttributeDefinition, value: Any, path: str) -> Any:
        """A value compared whole (eq, neq, in, not_in): a text one trimmed, as a contact's value is
        stored; a choice one of its choices, as a contact's value must be (exactly): another matches
        nobody. Stored rules keep a choice removed since."""
        if definition.type == AttributeType.STRING:
            return value.strip()
        if definition.type == AttributeType.CHOICE and not self.stored and value not in definition.choices:
            raise _Invalid(
                f"{path}.value",
                f"{definition.key} is a choice attribute: use one of {', '.join(definition.choices)}.",
            )
        return value

    def _typed(self, definition: AttributeDefinition, value: Any, path: str) -> Any:
        kind = definition.type
        if kind == AttributeType.NUMBER and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise _Invalid(
                f"{path}.value", f"{definition.key} is a number attribute: the value must be a number."
            )
        sqlite = connection.vendor != "postgresql"
        if kind == AttributeType.NUMBER and isinstance(value, int) and abs(value) >= 2**63 and sqlite:
            return float(value)  # SQLite binds integers of 64 bits (its JSON reads a larger one as a real)
        if kind == AttributeType.BOOLEAN and not isinstance(value, bool):
            raise _Invalid(
                f"{path}.value", f"{definition.key} is a boolean attribute: the value must be true or false."
            )
        if kind in (AttributeType.STRING, AttributeType.CHOICE) and not isinstance(value, str):
            raise _Invalid(
                f"{path}.value", f"{definition.key} is a {kind} attribute: the value must be a string."
            )
        if kind == AttributeType.DATE:
            try:  # YYYY-MM-DD only, as a contact's value (parse_date also took 20240105 and 2024-W01-5)
                strict = ISO_DAY.fullmatch(value) or self.stored if isinstance(value, str) else False
                day = parse_date(value) if strict else None
            except ValueError:  # well formed, not a day of the calendar: 2024-02-30
                day = None
            if day is None:
                raise _Invalid(
                    f"{path}.value", f"{definition.key} is a date attribute: the value must be YYYY-MM-DD."
                )
            return day.isoformat()
        return value

    def tags(self, op: str, value: Any, path: str) -> Q:
        from tags.models import Tag, TagAssignment

        self._check_op(op, TAG_OPS, path)
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            raise _Invalid(f"{path}.value", "Must be a non-empty list of tag names.")
        keys = dict(zip(db_name_keys(value), value, strict=True))  # as tag names are unique: lower(name)
        tags = Tag.objects.for_tenant(self.tenant).annotate(key=Lower("name")).filter(key__in=list(keys))
        found = dict(tags.values_list("key", "pk"))
        missing = sorted(" ".join(keys[key].split()) for key in keys.keys() - found.keys())
        if missing:
            raise _Invalid(f"{path}.value", f"Unknown tags: {', '.join(missing)}.")

        def has(tag_ids: list[uuid.UUID]) -> Q:
            return Q(Exists(TagAssignment.objects.for_tenant(self.tenant).filter(
                contact_id=OuterRef("pk"), tag_id__in=tag_ids)))  # fmt: skip

        if op == "any":
            return has(list(found.values()))
        if op == "none":
            return ~has(list(found.values()))
        combined = Q()
        for tag_id in found.values():
            combined &= has([tag_id])
        return combined

    def lists(self, op: str, value: Any, path: str) -> Q:
        from lists.models import ContactList, ListKind, ListMembership

        self._check_op(op, LIST_OPS, path)
        try:
            ids = {uuid.UUID(str(v)) for v in value} if isinstance(value, list) and value else None
        except ValueError:
            ids = None
        if not ids:
            raise _Invalid(f"{path}.value", "Must be a non-empty list of list ids.")
        lists = dict(ContactList.objects.for_tenant(self.tenant).filter(pk__in=ids).values_list("pk", "kind"))
        if set(lists) != ids:
            raise _Invalid(
                f"{path}.value", "Unknown list ids: " + ", ".join(sorted(str(i) for i in ids - set(lists)))
            )
        if ListKind.DYNAMIC in lists.values():
            raise _Invalid(f"{path}.value", "Rules may refer to static lists only.")
        q = Q(Exists(ListMembership.objects.for_tenant(self.tenant).filter(
            contact_id=OuterRef("pk"), contact_list_id__in=ids)))  # fmt: skip
        return q if op == "in" else ~q

    def consent(self, name: str, op: str, value: Any, path: str) -> Q:
        from consent.models import ConsentChannel, ConsentStatus
        from consent.selectors import has_consent
        from consent.services import purpose_keys

        _, channel, purpose = [*name.split(".", 2), "", ""][:3]
        if channel not in ConsentChannel.values:
            raise _Invalid(
                f"{path}.field", f"Unknown consent channel {channel!r}: use consent.<channel>.<purpose>."
            )
        if purpose not in purpose_keys(tenant=self.tenant):
            raise _Invalid(f"{path}.field", f"Unknown consent purpose {purpose!r}.")
        self._check_op(op, CONSENT_OPS, path)
        if op in ("is_empty", "is_not_empty"):
            q = Q(has_consent(tenant=self.tenant, channel=channel, purpose=purpose))
            return ~q if op == "is_empty" else q
        values = value if op in ("in", "not_in") else [value]
        if not isinstance(values, list) or not values or any(v not in ConsentStatus.values for v in values):
            raise _Invalid(f"{path}.value", f"Must be {'a list of ' if op in ('in', 'not_in') else ''}"
                                            f"granted, revoked or pending.")  # fmt: skip
        q = Q(has_consent(tenant=self.tenant, channel=channel, purpose=purpose, statuses=values))
        return ~q if op in ("neq", "not_in") else q

    def activity(self, op: str, value: Any, path: str) -> Q:
        from events.activities import activity_condition

        self._check_op(op, ACTIVITY_OPS, path)
        if not isinstance(value, dict) or set(value) - {"type", "in_last_days", "min_count"}:
            raise _Invalid(f"{path}.value", "Must be an object: {type, in_last_days?, min_count?}.")
        kind, days, min_count = value.get("type"), value.get("in_last_days"), value.get("min_count", 1)
        from events.activities import ACTIVITY_TYPE

        if not isinstance(kind, str) or not ACTIVITY_TYPE.fullmatch(kind):  # match took "x\n"
            raise _Invalid(f"{path}.value.type", "Must be an activity type such as email_opened.")
        if days is not None and (
            isinstance(days, bool) or not isinstance(days, int) or not 0 < days <= 36500
        ):
            raise _Invalid(f"{path}.value.in_last_days", "Must be a whole number of days from 1 to 36500.")
        if isinstance(min_count, bool) or not isinstance(min_count, int) or not 1 <= min_count <= 10_000:
            raise _Invalid(f"{path}.value.min_count", "Must be a whole number from 1 to 10000.")
        since = timezone.now() - dt.timedelta(days=days) if days else None
        q = activity_condition(tenant=self.tenant, activity_type=kind, since=since, min_count=min_count)
        return q if op == "had" else ~q


def compile_rules(*, tenant: Tenant, rules: Any, stored: bool = False) -> Q:
    """Validate rules and compile them to one Q over contacts; 400 listing every invalid rule.
    `stored`: a segment's saved rules, for its upkeep (see _Compiler.stored)."""
    definitions = {d.key: d for d in AttributeDefinition.objects.for_tenant(tenant)}
    compiler = _Compiler(tenant=tenant, definitions=definitions, stored=stored)
    try:
        q = compiler.group(rules, "rules", 1)
    except _Invalid as exc:
        compiler.errors.append({"field": exc.path, "code": "invalid_rule", "message": exc.message})
        q = Q()
    if compiler.errors:
        raise ValidationFailed(compiler.errors, message="Invalid segment rules.")
    return q

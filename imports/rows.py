"""Column mapping (suggested from the header) and the per-row parse: plain Python, no serializers.

A mapping is {header name: target}. Targets: the contact fields in FIELD_TARGETS,
`attributes.<key>` (a defined custom attribute), `tags` (names separated by , ; or |),
`consent.<channel>.<purpose>` (yes/no, granted/revoked... recorded in the consent ledger with the
import as proof), or "" (ignore the column).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from consent.models import ConsentChannel, ConsentStatus
from contacts.models import AttributeDefinition, AttributeType, ContactStatus
from contacts.normalization import (
    FieldError,
    attribute_value,
    normalize_country,
    normalize_email,
    normalize_phone,
)
from imports.csvio import unneutralise
from tags.services import MAX_TAG_NAME, TAG_SEPARATORS

FIELD_TARGETS = {
    "email": 254,
    "first_name": 150,
    "last_name": 150,
    "display_name": 300,
    "company": 200,
    "phone": 64,
    "country": 64,
    "city": 120,
    "external_id": 255,
    "status": 16,
    "source": 64,
}
SYNONYMS = {
    "email": {"email", "emailaddress", "mail", "courriel", "e_mail"},
    "first_name": {"firstname", "first", "givenname", "forename", "prenom"},
    "last_name": {"lastname", "last", "surname", "familyname", "nom"},
    "display_name": {"displayname", "fullname", "name"},
    "company": {"company", "companyname", "organization", "organisation", "org", "societe", "account"},
    "phone": {"phone", "phonenumber", "mobile", "mobilephone", "tel", "telephone", "cell", "cellphone"},
    "country": {"country", "countrycode", "pays"},
    "city": {"city", "town", "ville"},
    "external_id": {"externalid", "customerid", "clientid", "crmid", "extid"},
    "status": {"status"},
    "source": {"source", "leadsource"},
    "tags": {"tags", "tag", "labels", "label", "segments"},
}
# Consent columns: header (normalised) -> (channel, purpose). A header may also name its target
# directly ("consent.sms.newsletter").
CONSENT_SYNONYMS = {
    **dict.fromkeys(
        ("consent", "emailconsent", "optin", "emailoptin", "marketingconsent", "emailmarketingconsent",
         "acceptsmarketing", "acceptsemailmarketing", "subscribed", "marketingoptin", "gdprconsent"),
        ("email", "marketing"),
    ),
    **dict.fromkeys(("newsletter", "newsletterconsent", "newsletteroptin"), ("email", "newsletter")),
    **dict.fromkeys(("smsconsent", "smsoptin", "acceptssmsmarketing", "smsmarketingconsent"),
                    ("sms", "marketing")),
}  # fmt: skip
CONSENT_PREFIX = "consent."
GRANT_WORDS = {"granted", "grant", "subscribed", "optin", "optedin", "accepted", "agree", "agreed"}
REVOKE_WORDS = {"revoked", "revoke", "unsubscribed", "optout", "optedout", "declined", "refused", "withdrawn"}
TRUE_WORDS = {"true", "yes", "y", "1", "oui", "ja", "si", "x"}
FALSE_WORDS = {"false", "no", "n", "0", "non", "nein"}
MAX_TAGS_PER_ROW = 50


def tag_names(cell: str) -> list[str]:
    """The tag names of a tags cell, as the tags API cleans a name (whitespace collapsed), each cut to
    the longest tag name."""
    names = (" ".join(part.split())[:MAX_TAG_NAME].rstrip() for part in TAG_SEPARATORS.split(cell))
    return [name for name in names if name]


# Longest number cell read: an export writes a stored number in full, without exponent (jsonb's text):
# 1e308 has 309 digits, 5e-324 is "0." and 323 more; int() would refuse 4,300 digits.
MAX_NUMBER_CHARS = 400
# A number as a CSV cell writes one: ASCII digits, one . or , decimal mark, an optional exponent.
# (int() and float() also take "1_000", "inf", "nan" and other scripts' digits.)
NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def unique_header(header: list[str]) -> list[str]:
    """Header names made unique and non-empty (mapping keys): "Email", "Email (2)", "Column 3"."""
    taken: set[str] = set()
    out = []
    for index, raw in enumerate(header):
        base = (raw or "").strip().lstrip("\ufeff")[:200] or f"Column {index + 1}"
        name, n = base, 1
        while name in taken:  # "Phone (2)" may be in the file already: the next free number
            n += 1
            name = f"{base} ({n})"
        taken.add(name)
        out.append(name)
    return out


def consent_target(target: str, purposes: set[str]) -> tuple[str, str] | None:
    """(channel, purpose) of a `consent.<channel>.<purpose>` target the tenant can use, else None."""
    if not target.startswith(CONSENT_PREFIX):
        return None
    channel, _, purpose = target.removeprefix(CONSENT_PREFIX).partition(".")
    return (channel, purpose) if channel in ConsentChannel.values and purpose in purposes else None


def suggest_mapping(header: list[str], attribute_keys: list[str], purposes: set[str]) -> dict[str, str]:
    by_norm = {_norm(k): k for k in attribute_keys}
    mapping, used = {}, set()
    for name in header:
        norm = _norm(name)
        target = ""
        written = name.strip()
        if written.removeprefix("attributes.") in attribute_keys and written.startswith("attributes."):
            target = "" if written in used else written  # an export's own name for the column
        else:
            target = next((c for c, words in SYNONYMS.items() if norm in words and c not in used), "")
        if not target and norm in by_norm and f"attributes.{by_norm[norm]}" not in used:
            target = f"attributes.{by_norm[norm]}"
        if not target:
            direct = name.strip().lower()
            channel, purpose = CONSENT_SYNONYMS.get(norm, ("", ""))
            if consent_target(direct, purposes):
                target = direct
            elif purpose in purposes:
                target = f"{CONSENT_PREFIX}{channel}.{purpose}"
            if target in used:
                target = ""
        if target:
            used.add(target)
        mapping[name] = target
    return mapping


def mapping_problems(
    mapping: Any,
    header: list[str],
    definitions: dict[str, AttributeDefinition],
    dedupe_key: str,
    purposes: set[str],
) -> list[dict[str, str]]:
    if not isinstance(mapping, dict):
        return [{"field": "mapping", "code": "invalid", "message": "Must be an object of column -> target."}]
    errors, targets = [], {}
    for column, target in mapping.items():
        if column not in header:
            errors.append(
                {"field": f"mapping.{column}", "code": "unknown_column", "message": "No such column."}
            )
            continue
        if target in ("", None):
            continue
        if not isinstance(target, str) or not (
            target in FIELD_TARGETS
            or target == "tags"
            or (target.startswith("attributes.") and target.removeprefix("attributes.") in definitions)
            or consent_target(target, purposes)
        ):
            message = (
                "Use a contact field, tags, attributes.<defined key>, consent.<channel>.<purpose> (channels "
                f"{', '.join(ConsentChannel.values)}; purposes {', '.join(sorted(purposes))}) or an empty "
                "string to ignore."
            )
            errors.append({"field": f"mapping.{column}", "code": "invalid_target", "message": message})
            continue
        if target in targets:
            message = f"{target} is already mapped from column {targets[target]!r}."
            errors.append({"field": f"mapping.{column}", "code": "duplicate_target", "message": message})
        targets[target] = column
    if not errors and not ({"email", "phone", "external_id"} & set(targets)):
        message = "Map at least one of email, phone or external_id: contacts are identified by them."
        errors.append({"field": "mapping", "code": "no_identity", "message": message})
    if not errors and dedupe_key not in targets:
        message = f"The dedupe key {dedupe_key} must be mapped to a column."
        errors.append({"field": "dedupe_key", "code": "not_mapped", "message": message})
    return errors


def _char_lower(name: str) -> str:
    """A tag name lower-cased letter by letter, as the database's lower() does (the unique index's
    compare), where str.lower reads context: "ΟΔΟΣ" and "οδος" are two tags there, one to str.lower.
    A letter whose lower case is two (İ) is kept: counted apart rather than merged."""
    return "".join(low if len(low := char.lower()) == 1 else char for char in name)


@dataclass
class ParsedRow:
    line: int
    raw: list[str]
    values: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    consents: dict[tuple[str, str], str] = field(default_factory=dict)  # (channel, purpose) -> status
    errors: list[dict[str, str]] = field(default_factory=list)
    # A phone cell refused with no country cell on the row: the contact the row matches may have one.
    national_phone: str | None = None

    def error(self, field_name: str, message: str) -> None:
        self.errors.append({"field": field_name, "message": message})

    def read_phone_in(self, country: str) -> None:
        """A row whose only fault is a national phone with no country cell, matched to a contact of
        `country`: its phone is read there, as PATCH /contacts/{id}/ reads it (the first reason
        stands if it does not read there either)."""
        if not (self.national_phone and country and all(e["field"] == "phone" for e in self.errors)):
            return
        try:
            self.values["phone"] = normalize_phone(self.national_phone, country=country)
        except FieldError:
            return
        self.errors = []


class RowParser:
    """Turns raw CSV rows into normalised contact values, collecting every problem of a row."""

    def __init__(
        self, header: list[str], mapping: dict[str, str], definitions: dict[str, AttributeDefinition]
    ):
        self.width = len(header)
        self.columns = [(i, mapping.get(name) or "") for i, name in enumerate(header)]
        self.columns = [(i, t) for i, t in self.columns if t]
        self.definitions = definitions

    def parse(self, line: int, raw: list[str]) -> ParsedRow:
        row = ParsedRow(line=line, raw=raw)
        if len(raw) > self.width and any(cell.strip() for cell in raw[self.width :]):
            row.error("row", f"{len(raw)} columns where the header has {self.width}.")
            return row
        cells = {
            target: (unneutralise(raw[i].strip()).strip() if i < len(raw) else "")
            for i, target in self.columns
        }
        country = ""
        if cells.get("country"):
            try:
                country = normalize_country(cells["country"])
                row.values["country"] = country
            except FieldError as exc:
                row.error("country", exc.message)
        for target, cell in cells.items():
            if not cell or target == "country":
                continue
            if "\x00" in cell:
                row.error(target, "Must not contain NUL characters.")
                continue
            if target.startswith("attributes."):
                self._attribute(row, target.removeprefix("attributes."), cell)
            elif target.startswith(CONSENT_PREFIX):
                self._consent(row, target, cell)
            elif target == "tags":
                row.tags = tag_names(cell)
                distinct = len({_char_lower(name) for name in row.tags})  # one name in any case is one tag
                if distinct > MAX_TAGS_PER_ROW:  # as the tags API: refused, never cut silently
                    row.error("tags", f"At most {MAX_TAGS_PER_ROW} tags (got {distinct}).")
            elif len(cell) > FIELD_TARGETS[target]:
                row.error(target, f"At most {FIELD_TARGETS[target]} characters (got {len(cell)}).")
            elif target == "email":
                self._normalised(row, target, normalize_email, cell)
            elif target == "phone":
                self._normalised(row, target, lambda v: normalize_phone(v, country=country), cell)
                if "phone" not in row.values and not country:
                    row.national_phone = cell  # read again in the matched contact's country
            elif target == "status":
                status = cell.lower()
                if status in ContactStatus.values:
                    row.values["status"] = status
                else:
                    row.error("status", f"Must be one of {', '.join(ContactStatus.values)}.")
            else:
                row.values[target] = cell
        if not row.errors and not (
            row.values.get("email") or row.values.get("phone") or row.values.get("external_id")
        ):
            row.error("email", "The row has no email, phone or external_id.")
        return row

    @staticmethod
    def _normalised(row: ParsedRow, target: str, normalise, cell: str) -> None:
        try:
            row.values[target] = normalise(cell)
        except FieldError as exc:
            row.error(target, exc.message)

    @staticmethod
    def _consent(row: ParsedRow, target: str, cell: str) -> None:
        # Letters only ("Opt-In" is optin), but a number stays itself: "-1" or "+1" is not "1".
        word = cell.strip() if re.search(r"\d", cell) else re.sub(r"[^a-z]", "", cell.lower())
        channel, _, purpose = target.removeprefix(CONSENT_PREFIX).partition(".")
        if word in TRUE_WORDS or word in GRANT_WORDS:
            row.consents[(channel, purpose)] = ConsentStatus.GRANTED
        elif word in FALSE_WORDS or word in REVOKE_WORDS:
            row.consents[(channel, purpose)] = ConsentStatus.REVOKED
        elif word == "pending":
            row.error(target, "An import records granted or revoked; start a double opt-in through the API.")
        else:
            row.error(target, f"{cell[:50]!r} is not yes/no or granted/revoked.")

    def _attribute(self, row: ParsedRow, key: str, cell: str) -> None:
        """The cell read as the attribute's type, then checked as the API checks a value (range,
        length, choices)."""
        definition = self.definitions[key]
        name = f"attributes.{key}"
        kind = definition.type
        value: Any = cell
        if kind == AttributeType.NUMBER:
            if not NUMBER.fullmatch(cell):
                return row.error(name, f"{cell[:50]!r} is not a number.")
            if len(cell) > MAX_NUMBER_CHARS:  # int() refuses 4,300 digits; no value this long is in range
                return row.error(name, f"{cell[:50]!r}... is longer than {MAX_NUMBER_CHARS} characters.")
            value = float(cell.replace(",", ".")) if re.search(r"[.,eE]", cell) else int(cell)
        elif kind == AttributeType.BOOLEAN:
            word = cell.lower()
            if word not in TRUE_WORDS and word not in FALSE_WORDS:
                return row.error(name, f"{cell[:50]!r} is not yes/no or true/false.")
            value = word in TRUE_WORDS
        elif kind == AttributeType.DATE and len(cell) > 10:  # a timestamp: its date
            try:
                dt.datetime.fromisoformat(cell)
            except ValueError:
                return row.error(name, f"{cell[:50]!r} is not a date (YYYY-MM-DD) or an ISO 8601 timestamp.")
            value = cell[:10]
        try:
            row.attributes[key] = attribute_value(definition, value, name)
        except FieldError as exc:
            row.error(name, exc.message)
        return None

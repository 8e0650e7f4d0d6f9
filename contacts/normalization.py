"""Turning what callers send into what we store: e-mail, phone (E.164), country, attributes.

Pure functions that raise FieldError with a field path and a reason; the services collect them.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import idna
import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from contacts.models import AttributeDefinition, AttributeType

ATTRIBUTE_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def reserved_attribute_keys() -> frozenset[str]:
    """Names Django would read as a lookup in attributes__<key>__..., so keys may not use them."""
    from django.db.models import JSONField
    from django.db.models.fields.json import KeyTransform

    return frozenset(JSONField.get_lookups()) | frozenset(KeyTransform.get_lookups())


MAX_ATTRIBUTE_STRING = 2000
EMAIL_MAX_LENGTH = 254  # Contact.email's column
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
DISPLAY_NAME_MAX = 300  # Contact.display_name max_length
# ISO 3166-1 codes phonenumbers does not list (no telephone numbering plan of their own).
_EXTRA_COUNTRIES = {"AQ", "BV", "GS", "HM", "PN", "TF", "UM"}
# Regions phonenumbers lists that ISO 3166-1 does not assign: Ascension Island and Tristan da Cunha
# (exceptionally reserved; they are part of SH). XK (Kosovo, user-assigned) stays: it is in wide use.
_NOT_ISO = {"AC", "TA"}
COUNTRY_CODES = (
    frozenset(r for r in phonenumbers.SUPPORTED_REGIONS if len(r) == 2 and r.isalpha()) - _NOT_ISO
) | _EXTRA_COUNTRIES


class FieldError(Exception):
    def __init__(self, field: str, message: str, code: str = "invalid"):
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "code": self.code, "message": self.message}


def reject_nul(value: Any, field: str) -> None:
    """PostgreSQL cannot store U+0000 in text or jsonb; refuse it anywhere in a value."""
    if isinstance(value, str):
        if "\x00" in value:
            raise FieldError(field, "Must not contain NUL characters.")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            reject_nul(key, field)
            reject_nul(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            reject_nul(item, f"{field}.{index}")


# Full stops that IDNA (UTS #46) reads as the dot between labels; NFKC maps only U+FF0E of them.
_IDNA_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def _domain_label(label: str) -> str:
    if label.startswith("xn--"):
        try:
            decoded = label[4:].encode("ascii").decode("punycode")
            decoded.encode("utf-8")  # a lone surrogate (xn--a-rc4g) is no domain: not decoded
            return decoded
        except (UnicodeError, ValueError):
            return label  # not valid punycode: kept as written (validation decides)
    return label


def _uts46(domain: str) -> str:
    """IDNA's own mapping of a domain (UTS #46): case, compatibility forms, the dots, and the
    characters it maps to nothing (soft hyphen, zero-width space), so an invisible character makes
    no second address of one mailbox. A code point IDNA disallows is left for the validation."""
    try:
        return idna.uts46_remap(domain, std3_rules=False, transitional=False)
    except (idna.IDNAError, ValueError):
        return domain


def canonical_email(value: str) -> str:
    """The one spelling of an address that uniqueness, lookups and tombstones compare.

    Lower case, without surrounding spaces, and its domain in one Unicode form: NFKC (full-width
    letters are their ASCII selves), the ideographic full stops as dots and punycode labels
    (xn--...) decoded, so `a@xn--bcher-kva.de`, `a@BÜCHER.de` and `a@ｂüｃｈｅｒ.de` are one
    address, as they are one mailbox. The local part is kept as written (only ASCII passes the
    validation anyway). No validation here: normalize_email validates.
    """
    value = value.strip().lower()
    if value.isascii() and "xn--" not in value:
        return value
    local, at, domain = value.rpartition("@")
    if not at:
        return value
    domain = unicodedata.normalize("NFKC", _uts46(domain).translate(_IDNA_DOTS)).lower()
    domain = ".".join(_domain_label(label) for label in domain.split("."))
    return f"{local}@{unicodedata.normalize('NFKC', domain).lower()}"


def normalize_email(value: str | None, *, lookup: bool = False) -> str | None:
    """The canonical form of an email to store, or a FieldError. `lookup`: an address looked for rather
    than written, where a non-ASCII local part (refused for new values, accepted before) still finds
    the contact stored with it."""
    if value is None:
        return None
    value = canonical_email(value)
    if not value:
        return None
    if len(value) > EMAIL_MAX_LENGTH:  # checked after lower-casing: "İ" becomes two characters
        raise FieldError("email", f"At most {EMAIL_MAX_LENGTH} characters.", "max_length")
    try:
        value.encode("utf-8")
        validate_email(value)
    except (DjangoValidationError, UnicodeError) as exc:
        raise FieldError("email", "Enter a valid email address.") from exc
    if not lookup and not value.rpartition("@")[0].isascii():
        # validate_email matches the local part as [a-z] ignoring case, which Unicode's case folding
        # widens to the long s (U+017F), the dotless i (U+0131) and the Kelvin sign: "\u017fam@x" passed
        # beside "sam@x", a look-alike address.
        raise FieldError("email", "Enter a valid email address: the part before the @ must be ASCII.")
    return value


def normalize_country(value: str | None) -> str:
    if not value:
        return ""
    code = value.strip().upper()
    if code not in COUNTRY_CODES:
        raise FieldError("country", "Must be an ISO 3166-1 alpha-2 country code, such as FR or US.")
    return code


def normalize_phone(value: str | None, *, country: str = "", field: str = "phone") -> str | None:
    """Any common way of writing a number -> E.164. A national number needs the contact's country."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if value.startswith("00"):
        value = "+" + value[2:]
    letters = sum(c.isascii() and c.isalpha() for c in value.removeprefix("tel:"))
    if 0 < letters < 3:  # phonenumbers drops one or two letters (a typo); 3+ spell a vanity number
        raise FieldError(field, "Not a phone number: letters in it (an extension is not kept either).")
    try:
        number = phonenumbers.parse(value, country or None)
    except phonenumbers.NumberParseException as exc:
        reason = (
            "Include the country code (e.g. +33 6 12 34 56 78) or set the contact's country."
            if exc.error_type == phonenumbers.NumberParseException.INVALID_COUNTRY_CODE
            else "Not a phone number."
        )
        raise FieldError(field, reason) from exc
    if not phonenumbers.is_valid_number(number):
        raise FieldError(field, "Not a valid phone number for its country.")
    if number.extension:  # E.164 has no room for one: refused rather than dropped
        raise FieldError(field, "Phone numbers are kept in E.164, without an extension: leave it out.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def derive_display_name(
    *, first_name: str, last_name: str, email: str | None, phone: str | None, company: str
) -> str:
    full = f"{first_name} {last_name}".strip()
    return (full or email or phone or company or "")[:DISPLAY_NAME_MAX]


def _double_as_written(value: int) -> bool:
    """Whether a whole number past 2^53 is the value of a double's shortest form: 100000000000000000000
    (1e+20, what PostgreSQL's jsonb stores for 1e20) is; 9007199254740993 is not (JavaScript reads it
    as ...992). Such a number reads back the same in every JSON reader, so what the API stored for 1e20
    can be sent back, merged back and imported back."""
    try:
        return Decimal(repr(float(value))) == value
    except OverflowError:  # past the largest double
        return False


def attribute_value(definition: AttributeDefinition, value: Any, field: str) -> Any:
    """Check one attribute value against its definition; return the value to store."""
    kind = definition.type
    if kind == AttributeType.STRING:
        if not isinstance(value, str):
            raise FieldError(field, "Must be a string.")
        value = value.strip()  # as the contact's own text fields, an import's cells and the filter
        if len(value) > MAX_ATTRIBUTE_STRING:
            raise FieldError(field, f"At most {MAX_ATTRIBUTE_STRING} characters.")
        reject_nul(value, field)
        return value
    if kind == AttributeType.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise FieldError(field, "Must be a number.")
        if isinstance(value, float) and not math.isfinite(value):
            raise FieldError(field, "Must be a finite number.")
        if isinstance(value, float) and value.is_integer() and "e" in repr(value):
            # 1e20 as PostgreSQL's jsonb stores it and every read gives it back, 100000000000000000000,
            # so the events written from this value (contact.created) carry what later ones read.
            return int(Decimal(repr(value)))
        if isinstance(value, int) and abs(value) > 2**53 and not _double_as_written(value):
            message = (
                "A whole number must be between -2^53 and 2^53, or one a double holds as written (1e+20)."
            )
            raise FieldError(field, message)
        return value
    if kind == AttributeType.BOOLEAN:
        if not isinstance(value, bool):
            raise FieldError(field, "Must be true or false.")
        return value
    if kind == AttributeType.DATE:
        if not isinstance(value, str) or not ISO_DAY.fullmatch(value):  # fromisoformat takes 20240101 too
            raise FieldError(field, "Must be a date as YYYY-MM-DD.")
        try:
            return dt.date.fromisoformat(value).isoformat()
        except ValueError as exc:
            raise FieldError(field, "Must be a date as YYYY-MM-DD.") from exc
    if kind == AttributeType.CHOICE:
        if not isinstance(value, str) or value not in definition.choices:
            raise FieldError(field, f"Must be one of: {', '.join(definition.choices)}.")
        return value
    raise FieldError(field, f"Unsupported attribute type {kind}.")


def merge_attributes(
    *,
    definitions: Mapping[str, AttributeDefinition],
    current: Mapping[str, Any],
    incoming: Any,
    creating: bool,
) -> tuple[dict[str, Any], list[FieldError]]:
    """Apply incoming attribute values (null removes a key) to the current ones.

    Returns the new attribute dict and every problem found (all of them, not just the first).
    Required attributes must be present on create and may never be removed; contacts created
    before a definition became required are not forced to get it on unrelated updates.
    """
    errors: list[FieldError] = []
    if not isinstance(incoming, Mapping):
        return dict(current), [FieldError("attributes", "Must be an object of attribute key to value.")]
    result = dict(current)
    for key, value in incoming.items():
        field = f"attributes.{key}"
        definition = definitions.get(key)
        if definition is None:
            errors.append(
                FieldError(
                    field,
                    "Unknown attribute; define it with /api/v1/attribute-definitions/ first.",
                    "unknown",
                )
            )
            continue
        if value is None:
            if definition.required:
                errors.append(FieldError(field, "This attribute is required.", "required"))
            result.pop(key, None)
            continue
        try:
            result[key] = attribute_value(definition, value, field)
        except FieldError as exc:
            errors.append(exc)
            continue
        if definition.required and result[key] == "":  # "" or spaces (trimmed): no value given
            errors.append(FieldError(field, "This attribute is required.", "required"))
    if creating:
        for key, definition in definitions.items():
            if definition.required and key not in result:
                errors.append(FieldError(f"attributes.{key}", "This attribute is required.", "required"))
    return result, errors


def clean_choices(choices: Iterable[Any]) -> list[str]:
    cleaned: list[str] = []
    for index, choice in enumerate(choices):
        if not isinstance(choice, str) or not choice.strip():
            raise FieldError(f"choices.{index}", "Each choice must be a non-empty string.")
        reject_nul(choice, f"choices.{index}")
        if "," in choice:  # ?attribute=key:a,b is either value: "Small, medium" could not be filtered on
            raise FieldError(
                f"choices.{index}", "Must not contain commas: filters separate values with them."
            )
        if choice in cleaned:
            raise FieldError(f"choices.{index}", "Choices must be unique.")
        cleaned.append(choice)
    return cleaned

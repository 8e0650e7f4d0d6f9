import functools
import re
import uuid

from django.apps import AppConfig
from django.db.backends.signals import connection_created

# The SQL name of history_entry_id on SQLite (the contacts_contactchangeentry view calls it there).
SQLITE_ENTRY_ID_FUNCTION = "contacts_history_entry_id"


def sqlite_history_entry_id(change_id: str | None, position: int | None) -> str | None:
    """history_entry_id for SQLite, where UUIDs are stored as 32 hex digits: the same ids as the
    PostgreSQL view computes, so an entry keeps its id whichever database serves it."""
    from contacts.models import history_entry_id

    if change_id is None or position is None:
        return None
    return history_entry_id(uuid.UUID(change_id), int(position)).hex


def _text(function):
    def apply(value):
        return function(value) if isinstance(value, str) else value

    return apply


@functools.lru_cache(maxsize=512)
def _like_pattern(pattern: str, escape: str | None) -> re.Pattern:
    parts, index = [], 0
    while index < len(pattern):
        char = pattern[index]
        if escape and char == escape and index + 1 < len(pattern):
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL | re.IGNORECASE)


def sqlite_like(pattern, value, escape=None):
    """`value LIKE pattern [ESCAPE escape]`, any case of any letter (SQLite's own folds ASCII only)."""
    if pattern is None or value is None:
        return None
    return _like_pattern(str(pattern), escape).fullmatch(str(value)) is not None


def _simple_lower(text: str) -> str:
    """Each character lower-cased on its own, as PostgreSQL's lower() does: str.lower() maps in context
    and may lengthen ("İ" is "i" plus a combining dot, a final "Σ" is "ς"), so "istanbul" and "οδοσ"
    were new tag names beside "İstanbul" and "ΟΔΟΣ" on SQLite alone."""
    return "".join(ch.lower()[:1] for ch in text)


def _simple_upper(text: str) -> str:
    """Likewise upper(): "ß" stays "ß" ("SS" with str.upper())."""
    return "".join(up if len(up := ch.upper()) == 1 else ch for ch in text)


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """Every new SQLite connection gets the SQL functions the contacts schema uses (the history
    view's entry ids): SQLite has no SHA-256 of its own, and its functions live per connection.

    And lower(), upper() and LIKE of any letter, as PostgreSQL's: SQLite's fold ASCII only, so
    "any case" (search, ?city=, segment rules, tag and list names unique ignoring case) missed
    "Élodie" for "élodie" and let "été" be a second tag beside "ÉTÉ" in the embedded default."""
    if connection.vendor == "sqlite":
        raw = connection.connection
        raw.create_function(SQLITE_ENTRY_ID_FUNCTION, 2, sqlite_history_entry_id, deterministic=True)
        raw.create_function("lower", 1, _text(_simple_lower), deterministic=True)
        raw.create_function("upper", 1, _text(_simple_upper), deterministic=True)
        raw.create_function("like", 2, sqlite_like, deterministic=True)
        raw.create_function("like", 3, sqlite_like, deterministic=True)


class ContactsConfig(AppConfig):
    """Contacts, their identifiers, custom attributes and change history."""

    name = "contacts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(register_sqlite_functions, dispatch_uid="contacts.sqlite_functions")

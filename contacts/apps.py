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


def register_sqlite_functions(sender, connection, **kwargs) -> None:
    """Every new SQLite connection gets the SQL functions the contacts schema uses (the history
    view's entry ids): SQLite has no SHA-256 of its own, and its functions live per connection."""
    if connection.vendor == "sqlite":
        connection.connection.create_function(
            SQLITE_ENTRY_ID_FUNCTION, 2, sqlite_history_entry_id, deterministic=True
        )


class ContactsConfig(AppConfig):
    """Contacts, their identifiers, custom attributes and change history."""

    name = "contacts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        connection_created.connect(register_sqlite_functions, dispatch_uid="contacts.sqlite_functions")

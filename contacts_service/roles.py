"""Roles of a membership or API key and the permissions each one grants."""

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    CONTACTS_MANAGER = "contacts_manager", "Contacts manager"
    MARKETING_MANAGER = "marketing_manager", "Marketing manager"
    CONTACTS_VIEWER = "contacts_viewer", "Contacts viewer"


class Perm:
    """Permission names; the strings are part of the API (GET /api/v1/me/ lists them)."""

    CONTACTS_VIEW = "contacts.view"
    CONTACTS_CREATE = "contacts.create"
    CONTACTS_UPDATE = "contacts.update"
    CONTACTS_DELETE = "contacts.delete"
    CONTACTS_EXPORT = "contacts.export"
    CONTACTS_ERASE = "contacts.erase"
    CONTACTS_IMPORT = "contacts.import"
    CONTACTS_MERGE = "contacts.merge"  # merge and undo, dismiss duplicates, set matching rules
    LISTS_MANAGE = "lists.manage"
    TAGS_MANAGE = "tags.manage"
    CONSENT_MANAGE = "consent.manage"
    EVENTS_VIEW = "events.view"
    EVENTS_REPLAY = "events.replay"
    ATTRIBUTES_MANAGE = "attributes.manage"
    API_KEYS_MANAGE = "api_keys.manage"


ALL_PERMISSIONS = frozenset(value for name, value in vars(Perm).items() if name.isupper())

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: ALL_PERMISSIONS,
    Role.CONTACTS_MANAGER: frozenset(
        {
            Perm.CONTACTS_VIEW,
            Perm.CONTACTS_CREATE,
            Perm.CONTACTS_UPDATE,
            Perm.CONTACTS_DELETE,
            Perm.CONTACTS_EXPORT,
            Perm.CONTACTS_ERASE,
            Perm.CONTACTS_IMPORT,
            Perm.CONTACTS_MERGE,
            Perm.TAGS_MANAGE,
            Perm.CONSENT_MANAGE,
            Perm.EVENTS_VIEW,
            Perm.EVENTS_REPLAY,
            Perm.ATTRIBUTES_MANAGE,
        }
    ),
    Role.MARKETING_MANAGER: frozenset(
        {Perm.CONTACTS_VIEW, Perm.LISTS_MANAGE, Perm.TAGS_MANAGE, Perm.CONTACTS_EXPORT}
    ),
    Role.CONTACTS_VIEWER: frozenset({Perm.CONTACTS_VIEW}),
}


def role_has_permission(role: str, permission: str) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())

"""Every write to contacts, identifiers and attribute definitions goes through these functions."""

from contacts.services.attributes import (
    attribute_definition_create,
    attribute_definition_delete,
    attribute_definition_update,
)
from contacts.services.contacts import contact_create, contact_delete, contact_restore, contact_update
from contacts.services.identifiers import identifier_add, identifier_remove, identifier_update

__all__ = [
    "attribute_definition_create",
    "attribute_definition_delete",
    "attribute_definition_update",
    "contact_create",
    "contact_delete",
    "contact_restore",
    "contact_update",
    "identifier_add",
    "identifier_remove",
    "identifier_update",
]

"""Every write to contacts, identifiers and attribute definitions goes through these functions."""

from contacts.services.attributes import (
    attribute_definition_create,
    attribute_definition_delete,
    attribute_definition_update,
)
from contacts.services.contacts import contact_create, contact_delete, contact_restore, contact_update
from contacts.services.duplicates import (
    duplicate_dismiss,
    duplicate_reopen,
    duplicates_check,
    duplicates_recompute,
    matching_rules_get,
    matching_rules_update,
)
from contacts.services.identifiers import identifier_add, identifier_remove, identifier_update
from contacts.services.merge_undo import merge_undo, merge_undo_check
from contacts.services.merges import contact_merge

__all__ = [
    "attribute_definition_create",
    "attribute_definition_delete",
    "attribute_definition_update",
    "contact_create",
    "contact_delete",
    "contact_merge",
    "contact_restore",
    "contact_update",
    "duplicate_dismiss",
    "duplicate_reopen",
    "duplicates_check",
    "duplicates_recompute",
    "identifier_add",
    "identifier_remove",
    "identifier_update",
    "matching_rules_get",
    "matching_rules_update",
    "merge_undo",
    "merge_undo_check",
]

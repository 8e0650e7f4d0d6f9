"""Contacts, channel identifiers, custom attribute definitions, the change history, duplicates and
merges."""

import datetime
import hashlib
import uuid
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q, Value
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from contacts_service.ids import new_id
from contacts_service.tenancy import TenantOwnedModel
from events.models import log_tenant


class ContactStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    BLOCKED = "blocked", "Blocked"


LIVE_LIST_INDEXES = {
    "contact_live_created_idx": ["-created_at", "-id"],
    "contact_live_updated_idx": ["-updated_at", "-id"],
    "contact_live_last_name_idx": ["last_name", "id"],
    "contact_live_email_idx": ["email", "id"],
    "contact_live_status_idx": ["status", "-created_at"],
    "contact_live_country_idx": ["country", "-created_at"],
}


class AttributeLookup(models.Expression):
    """`attributes__<key>__<lookup>=value` for any key, as a condition for filter() or Q().

    The keyword form splits the path at `__`, so a key holding it (allowed before attribute keys
    refused `__`) read as a path: `a__b` as key `a`, then `b`. The key transform is resolved first,
    so the lookup prepares its value as the keyword form does (as JSON).
    """

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, key: str, lookup: str, value: Any):
        super().__init__()
        self.key, self.lookup, self.value = key, lookup, value

    def resolve_expression(self, query=None, allow_joins=True, reuse=None, summarize=False, for_save=False):
        args = (query, allow_joins, reuse, summarize, for_save)
        transform = KeyTransform(self.key, "attributes").resolve_expression(*args)
        return transform.get_lookup(self.lookup)(transform, self.value).resolve_expression(*args)


class Contact(TenantOwnedModel):
    """A person a tenant keeps: identity, profile, typed custom attributes."""

    # No index on tenant_id alone (contacts 0015): the table's tenant-led indexes (created, phone, the live
    # list indexes, the unique email / external id ones) serve every tenant condition and cascade.
    tenant = models.ForeignKey(
        "contacts_service.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    email = models.CharField(max_length=254, null=True, blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    display_name = models.CharField(max_length=300, blank=True)
    # False while display_name is derived from the other fields; True once a caller set it.
    display_name_custom = models.BooleanField(default=False)
    company = models.CharField(max_length=200, blank=True)
    phone = models.CharField(max_length=20, null=True, blank=True)
    country = models.CharField(max_length=2, blank=True)
    city = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=16, choices=ContactStatus.choices, default=ContactStatus.ACTIVE)
    source = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=255, null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Per-contact event counter: the envelope's "sequence", bumped under the row lock.
    event_sequence = models.PositiveBigIntegerField(default=0)
    # Set while the contact is merged away into another (deleted_at is set too); cleared by undo.
    merge = models.ForeignKey(
        "contacts.Merge", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_contacts"
    )

    class Meta:
        # Granted to operators in the Django admin for the "Erase permanently (GDPR)" action.
        permissions = [("erase_contact", "Can erase contacts permanently (GDPR)")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=Q(email__isnull=False, deleted_at__isnull=True),
                name="contact_email_unique_live",
            ),
            models.UniqueConstraint(
                fields=["tenant", "external_id"],
                condition=Q(external_id__isnull=False, deleted_at__isnull=True),
                name="contact_external_id_unique_live",
            ),
        ]
        indexes = [
            # contact_updated_idx, contact_status_idx, contact_geo_idx and contact_name_idx went in
            # contacts 0014: the live indexes below serve those filters and orderings, and each index
            # is paid on every insert (see the migration).
            models.Index(fields=["tenant", "-created_at"], name="contact_created_idx"),
            models.Index(fields=["tenant", "phone"], name="contact_phone_idx"),
            # The contacts list: live contacts of one tenant in each ordering it offers (id breaks
            # ties, as keyset paging needs), and the selective filters combined with the default one.
            *[
                models.Index(fields=["tenant", *keys], condition=Q(deleted_at__isnull=True), name=name)
                for name, keys in LIVE_LIST_INDEXES.items()
            ],
        ]

    def __str__(self) -> str:
        return self.display_name or self.email or str(self.pk)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class IdentifierChannel(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    WHATSAPP = "whatsapp", "WhatsApp"
    SMS = "sms", "SMS"
    PUSH = "push", "Push token"


class ContactIdentifier(TenantOwnedModel):
    """An address a contact can be reached or recognised by on one channel."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="identifiers")
    channel = models.CharField(max_length=16, choices=IdentifierChannel.choices)
    value = models.CharField(max_length=512)
    verified = models.BooleanField(default=False)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "channel", "value"], name="identifier_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "contact"], name="identifier_contact_idx")]


class AttributeType(models.TextChoices):
    STRING = "string", "String"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Boolean"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"


class AttributeDefinition(TenantOwnedModel):
    """A tenant's custom contact field: its key in Contact.attributes, its type and rules."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    key = models.CharField(max_length=64)
    label = models.CharField(max_length=150)
    type = models.CharField(max_length=16, choices=AttributeType.choices)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="attribute_key_unique")]
        ordering = ["key"]


class ChangeSource(models.TextChoices):
    API = "api", "API"
    IMPORT = "import", "Import"
    MERGE = "merge", "Merge"
    ADMIN = "admin", "Admin"
    SYSTEM = "system", "System"


class ContactChange(TenantOwnedModel):
    """One change event of one contact: every field it changed, who, how, when, under which request.

    `changes` is a list of {"field", "old", "new"} in the order the fields were written (a list, not
    a {field: {old, new}} map: a merge records two `identifiers.email` entries when it adds two
    emails, and JSONB does not keep a map's key order). One row per event, not per field: an import
    writes one of these per contact instead of a dozen (contacts 0012). Read field by field through
    ContactChangeEntry, as the API and the GDPR export show it.
    """

    tenant = log_tenant()  # an import writes one of these per contact (see events.models.log_tenant)
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    # Indexed by change_contact_time_idx below (led by contact_id, as the constraint check needs).
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="changes", db_index=False)
    event_id = models.UUIDField(null=True, blank=True)
    changes = models.JSONField(default=list, db_default=Value([], output_field=models.JSONField()))
    actor = models.JSONField(default=dict)
    source = models.CharField(max_length=16, choices=ChangeSource.choices)
    correlation_id = models.CharField(max_length=128, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        # One index for the history of a contact (newest first, in the order the API pages it) and for
        # the foreign key (a deleted contact's rows): a contact id belongs to one tenant, so tenant_id
        # need not lead. It replaced (tenant, contact, -changed_at) and (contact).
        indexes = [models.Index(fields=["contact", "-changed_at", "-id"], name="change_contact_time_idx")]

    @staticmethod
    def entries(changes: dict[str, tuple[Any, Any]] | list[tuple[str, Any, Any]]) -> list[dict[str, Any]]:
        """The `changes` value of {field: (old, new)} or of [(field, old, new), ...]."""
        items = changes.items() if isinstance(changes, dict) else ((f, (o, n)) for f, o, n in changes)
        return [{"field": field, "old": old, "new": new} for field, (old, new) in items]


def history_entry_id(change_id: uuid.UUID, position: int) -> uuid.UUID:
    """The id of the `position`-th (from 1) field entry of a history row: a name-based UUIDv8
    (RFC 9562 B.2: SHA-256 of namespace + name; here the row id and the position), the same as the
    contacts_contactchangeentry view computes in SQL (see contacts 0012; on SQLite the view calls this
    function, registered by contacts.apps). Stable and unique."""
    digest = bytearray(hashlib.sha256(change_id.bytes + str(position).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    return uuid.UUID(bytes=bytes(digest))


class ContactChangeEntry(TenantOwnedModel):
    """One field of one history row, as GET .../history/ and the GDPR export list them: a read-only
    view over contacts_contactchange (one row per element of `changes`; PostgreSQL and SQLite, see
    contacts 0012), so the API's page numbers, counts and ?cursor= keyset paging work on field
    entries as they did when each entry was a row. Never written; rows come and go with their
    ContactChange. A migration that alters contacts_contactchange drops and recreates the view."""

    tenant = models.ForeignKey(
        "contacts_service.Tenant", on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    id = models.UUIDField(primary_key=True, editable=False)  # history_entry_id(change_id, position)
    change = models.ForeignKey(
        ContactChange, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    position = models.PositiveIntegerField()  # from 1, in `changes` order
    contact = models.ForeignKey(
        Contact, on_delete=models.DO_NOTHING, related_name="history_entries", db_constraint=False
    )
    event_id = models.UUIDField(null=True, blank=True)
    field = models.CharField(max_length=100)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    actor = models.JSONField(default=dict)
    source = models.CharField(max_length=16, choices=ChangeSource.choices)
    correlation_id = models.CharField(max_length=128, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)  # as ContactChange (the API schema says so)

    class Meta:
        managed = False
        db_table = "contacts_contactchangeentry"
        # Newest first; within one change the last field written first (as per-field rows with
        # time-ordered ids came out). (changed_at, change) walks change_contact_time_idx.
        ordering = ["-changed_at", "-change_id", "-position"]

    def __str__(self) -> str:
        return f"{self.field}: {self.old_value!r} -> {self.new_value!r}"


class TombstoneSalt(TenantOwnedModel):
    """The tenant's random key for tombstone hashes, made on its first erasure.

    Kept in the database, not derived from SECRET_KEY: rotating the secret key must not orphan
    the tombstones. Never changed once made (every existing hash depends on it).
    """

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    salt = models.CharField(max_length=64)  # 32 random bytes, hex
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="tombstone_salt_unique")]


class ErasureTombstone(TenantOwnedModel):
    """What is left of an erased contact: keyed hashes of its email and phone, who erased it, when.

    One row per erasure carries the contact's own email and phone hashes (either may be null, both
    are for a contact that had neither); each further email or phone number the contact held as an
    identifier gets its own row with only that hash. Hashes are HMAC-SHA256 of the normalised
    value (email lower-case, phone E.164) keyed with the tenant's TombstoneSalt, hex.
    """

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    contact_id = models.UUIDField()
    email_hash = models.CharField(max_length=64, null=True, blank=True)
    phone_hash = models.CharField(max_length=64, null=True, blank=True)
    erased_at = models.DateTimeField(default=timezone.now)
    erased_by = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["tenant", "email_hash"], name="tombstone_email_idx"),
            models.Index(fields=["tenant", "phone_hash"], name="tombstone_phone_idx"),
            models.Index(fields=["tenant", "contact_id"], name="tombstone_contact_idx"),
        ]


# -- duplicates and merges ------------------------------------------------------------------------


class MatchKey(models.TextChoices):
    """What two contacts can have in common for a duplicate rule."""

    EMAIL = "email", "Same email (own email or email identifiers)"
    PHONE = "phone", "Same phone in E.164 (own phone or phone/sms/whatsapp identifiers)"
    EXTERNAL_ID = "external_id", "Same external_id, ignoring case"
    NAME = "name", "Similar name (trigram similarity of display names)"
    COMPANY = "company", "Same company, ignoring case and surrounding spaces"


class MergeStrategy(models.TextChoices):
    KEEP_PRIMARY = "keep_primary", "Keep the primary's values"
    FILL_EMPTY = "fill_empty", "Keep the primary's values, fill its empty ones from the others"
    NEWEST_WINS = "newest_wins", "Each value from the most recently updated contact that has one"
    MANUAL_REVIEW = "manual_review", "Every conflicting value must be chosen in `fields`"


DEFAULT_MATCH_RULES = [["email"], ["phone"], ["external_id"], ["name", "company"]]
DEFAULT_NAME_SIMILARITY = 0.6


class MatchingRules(TenantOwnedModel):
    """A tenant's rules for duplicates (which keys, alone or combined, mean the same person) and
    the default strategy of a merge. A tenant without a row uses the defaults."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    # Each rule is a list of MatchKey values that must all match: [["email"], ["name", "company"]].
    rules = models.JSONField(default=list)
    # Ignore dots and a +suffix in the local part of gmail.com / googlemail.com addresses.
    email_gmail_folding = models.BooleanField(default=False)
    name_similarity = models.FloatField(default=DEFAULT_NAME_SIMILARITY)
    merge_strategy = models.CharField(
        max_length=16, choices=MergeStrategy.choices, default=MergeStrategy.FILL_EMPTY
    )
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant"], name="matching_rules_unique")]


class DuplicateCandidate(TenantOwnedModel):
    """Two live contacts that may be the same person: which keys matched and how sure (0-100).

    contact_a is the smaller id. Recomputing updates open pairs and drops those that no longer
    match; a dismissed pair is kept as it is, so it never comes back."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    contact_a = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    contact_b = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    match_email = models.BooleanField(default=False)
    match_phone = models.BooleanField(default=False)
    match_external_id = models.BooleanField(default=False)
    match_name = models.BooleanField(default=False)
    match_company = models.BooleanField(default=False)
    name_similarity = models.FloatField(null=True, blank=True)
    score = models.PositiveSmallIntegerField()
    detected_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    dismissed_by = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "contact_a", "contact_b"], name="duplicate_pair_unique"
            ),
            models.CheckConstraint(
                condition=Q(contact_a__lt=models.F("contact_b")), name="duplicate_pair_order"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-score"], name="duplicate_score_idx"),
            models.Index(fields=["tenant", "contact_b"], name="duplicate_contact_b_idx"),
        ]

    @property
    def reasons(self) -> list[str]:
        return [key for key in MatchKey.values if getattr(self, f"match_{key}")]


class SnapshotJSONEncoder(DjangoJSONEncoder):
    """DjangoJSONEncoder with datetimes to the microsecond (it cuts them to milliseconds): undo
    writes snapshot times back and must restore them exactly."""

    def default(self, o):
        if isinstance(o, datetime.datetime | datetime.time):
            return o.isoformat()
        return super().default(o)


class MergeStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    UNDONE = "undone", "Undone"


class Merge(TenantOwnedModel):
    """One merge of contacts into a primary, with what undo needs to put everything back.

    Per contact the snapshot is in MergeContact; here: what the merge created (identifiers,
    derived consent ledger entries) and the primary's event sequence right after it, which undo
    compares to tell whether the primary changed since."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    primary = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    merged_ids = models.JSONField(default=list)  # the others, in the order given
    strategy = models.CharField(max_length=16, choices=MergeStrategy.choices)
    fields = models.JSONField(default=dict, blank=True)  # field -> chosen contact id, as requested
    changes = models.JSONField(default=dict, blank=True, encoder=SnapshotJSONEncoder)  # field -> {old, new}
    created = models.JSONField(default=dict, blank=True)  # {"identifiers": [ids], "consent_records": [ids]}
    primary_sequence = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=MergeStatus.choices, default=MergeStatus.APPLIED)
    actor = models.JSONField(default=dict)
    correlation_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "-created_at"], name="merge_created_idx")]


class MergeRole(models.TextChoices):
    PRIMARY = "primary", "Primary"
    MERGED = "merged", "Merged away"


class MergeContact(TenantOwnedModel):
    """One contact of a merge as it was before: its row and everything linked to it (identifiers,
    tags, lists, consent state), and the ids of its rows the merge moved to the primary."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    merge = models.ForeignKey(Merge, on_delete=models.CASCADE, related_name="contacts")
    contact_id = models.UUIDField()
    role = models.CharField(max_length=16, choices=MergeRole.choices)
    snapshot = models.JSONField(default=dict, encoder=SnapshotJSONEncoder)
    # Ids of its rows moved to the primary: {"timeline": [...], "history": [...], "activities": [...]}
    moved = models.JSONField(default=dict, blank=True)
    sequence_after = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["merge", "contact_id"], name="merge_contact_unique"),
        ]
        indexes = [models.Index(fields=["tenant", "contact_id"], name="merge_contact_idx")]

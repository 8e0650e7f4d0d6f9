"""Contacts, channel identifiers, custom attribute definitions and the change history."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from contacts_service.ids import new_id
from contacts_service.tenancy import TenantOwnedModel


class ContactStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    BLOCKED = "blocked", "Blocked"


class Contact(TenantOwnedModel):
    """A person a tenant keeps: identity, profile, typed custom attributes."""

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
            models.Index(fields=["tenant", "-created_at"], name="contact_created_idx"),
            models.Index(fields=["tenant", "-updated_at"], name="contact_updated_idx"),
            models.Index(fields=["tenant", "status"], name="contact_status_idx"),
            models.Index(fields=["tenant", "country", "city"], name="contact_geo_idx"),
            models.Index(fields=["tenant", "last_name", "first_name"], name="contact_name_idx"),
            models.Index(fields=["tenant", "phone"], name="contact_phone_idx"),
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
    """One field of one contact changed: old and new value, who, how, when, under which request."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="changes")
    event_id = models.UUIDField(null=True, blank=True)
    field = models.CharField(max_length=100)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    actor = models.JSONField(default=dict)
    source = models.CharField(max_length=16, choices=ChangeSource.choices)
    correlation_id = models.CharField(max_length=128, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["tenant", "contact", "-changed_at"], name="change_contact_idx")]


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

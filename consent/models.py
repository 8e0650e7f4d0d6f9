"""Consent: an append-only ledger per contact, channel and purpose, and the current state derived from it.

The ledger (ConsentRecord) is proof: who said what, when, from where, on which legal basis. Rows
are never changed or deleted, except when the contact itself is erased (GDPR): the ORM refuses
updates and deletes, and on PostgreSQL a trigger refuses them too unless the erasing transaction
has set `contacts_service.erasing`. ConsentState holds the current status per channel and purpose
so lists and segments filter on an indexed row instead of replaying the ledger.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from contacts_service.ids import new_id
from contacts_service.tenancy import TenantManager, TenantOwnedModel, TenantQuerySet

DEFAULT_PURPOSES = (
    ("marketing", "Marketing", "Promotional messages and offers."),
    ("newsletter", "Newsletter", "The regular newsletter."),
    ("transactional", "Transactional", "Messages about orders, accounts and services used."),
)


class ConsentChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    PUSH = "push", "Push"


class ConsentStatus(models.TextChoices):
    GRANTED = "granted", "Granted"
    REVOKED = "revoked", "Revoked"
    PENDING = "pending", "Pending confirmation"


class LegalBasis(models.TextChoices):
    """GDPR article 6(1) bases."""

    CONSENT = "consent", "Consent"
    CONTRACT = "contract", "Contract"
    LEGAL_OBLIGATION = "legal_obligation", "Legal obligation"
    VITAL_INTERESTS = "vital_interests", "Vital interests"
    PUBLIC_TASK = "public_task", "Public task"
    LEGITIMATE_INTERESTS = "legitimate_interests", "Legitimate interests"


class ConsentPurpose(TenantOwnedModel):
    """What a tenant asks consent for; every tenant starts with marketing, newsletter, transactional."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    key = models.SlugField(max_length=64)
    label = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="consent_purpose_unique")]
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key


class LedgerImmutable(Exception):
    """Something tried to change or delete a consent ledger row."""


class LedgerQuerySet(TenantQuerySet):
    def update(self, **kwargs):
        raise LedgerImmutable("The consent ledger is append-only: rows cannot be updated.")

    def delete(self):
        raise LedgerImmutable("The consent ledger is append-only: rows cannot be deleted.")


class LedgerManager(TenantManager):
    _queryset_class = LedgerQuerySet


class LedgerBaseQuerySet(models.QuerySet):
    """What Django's internals and the GDPR erasure use (the base manager, unscoped): they may
    delete (an erasure; on PostgreSQL the trigger still wants the erasing flag), never update."""

    def update(self, **kwargs):
        raise LedgerImmutable("The consent ledger is append-only: rows cannot be updated.")


class ConsentRecord(TenantOwnedModel):
    """One statement about a contact's consent on one channel for one purpose. Append-only."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=16, choices=ConsentChannel.choices)
    purpose = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=ConsentStatus.choices)
    legal_basis = models.CharField(max_length=32, choices=LegalBasis.choices, default=LegalBasis.CONSENT)
    source = models.CharField(max_length=64, blank=True)
    proof = models.JSONField(default=dict, blank=True)
    # The data subject's address and browser as the caller reports them (a sign-up form relayed by
    # another service), else those of the request; request_ip is always the caller's own address.
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    request_ip = models.GenericIPAddressField(null=True, blank=True)
    actor = models.JSONField(default=dict)
    correlation_id = models.CharField(max_length=128, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    # False when the statement did not change the current state (a pending sign-up over a granted
    # consent: recorded as proof that it happened, but it never downgrades).
    applied = models.BooleanField(default=True)
    # A double opt-in confirmation points at the pending record it confirms; unique, so a token is
    # used once even under concurrent clicks.
    confirms = models.OneToOneField(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="confirmation"
    )
    event_id = models.UUIDField(null=True, blank=True)

    objects = LedgerManager()
    unscoped_objects = models.Manager.from_queryset(LedgerBaseQuerySet)()

    class Meta:
        indexes = [models.Index(fields=["tenant", "contact", "-recorded_at"], name="consent_ledger_idx")]

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise LedgerImmutable("The consent ledger is append-only: rows cannot be updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutable("The consent ledger is append-only: rows cannot be deleted.")


class ConsentState(TenantOwnedModel):
    """The current status of a contact's consent on one channel for one purpose."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="consents")
    channel = models.CharField(max_length=16, choices=ConsentChannel.choices)
    purpose = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=ConsentStatus.choices)
    legal_basis = models.CharField(max_length=32, choices=LegalBasis.choices, default=LegalBasis.CONSENT)
    source = models.CharField(max_length=64, blank=True)
    record = models.ForeignKey(ConsentRecord, on_delete=models.CASCADE, related_name="+")
    # When a double opt-in confirmed it (null for a consent granted directly).
    confirmed_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "contact", "channel", "purpose"], name="consent_state_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "channel", "purpose", "status", "contact"],
                name="consent_state_filter_idx",
            )
        ]

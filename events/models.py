"""Timeline entries (what a user reads) and outbox rows (what the relay publishes)."""

import json
from functools import partial

from django.db import models
from django.utils import timezone
from psycopg.types.json import Json

from contacts_service.ids import new_id
from contacts_service.tenancy import TenantOwnedModel


def log_tenant() -> models.ForeignKey:
    """The tenant of a row written by the thousand: append-only log rows (timeline, outbox, history) and
    link rows (tag assignments, list memberships). No index of its own and no foreign key constraint in
    the database: their other indexes start with tenant_id or with a contact id (which belongs to one
    tenant), so one on tenant_id alone only cost an insert per row; the constraint cost a check per row
    at commit (deferred), and a bulk change writes tens of thousands of such rows. Deleting a tenant
    still deletes them (on_delete runs in Django); the rows are written only by services that hold the
    Tenant instance."""
    return models.ForeignKey(
        "contacts_service.Tenant", on_delete=models.CASCADE, related_name="+", db_index=False,
        db_constraint=False,
    )  # fmt: skip


class JSONTextField(models.JSONField):
    """A JSON document kept as PostgreSQL `json` (its text, checked when written) instead of `jsonb`.

    For the outbox payload: written once per event, published whole as text by the relay, never
    searched inside by a hot path. Building or parsing jsonb's binary form was the largest single cost
    of a bulk link's outbox rows (~0.3 s per 100,000 events, measured); `json` takes the text as is.
    Other databases keep JSONField's own type.

    `json` has no equality and no containment: lookups inside the payload (payload__data__x=...,
    __contains, __has_key), DISTINCT or GROUP BY on it fail on PostgreSQL. Compare a key as text with
    KT("payload__data__x") (contacts.gdpr does), or read the rows and look in Python."""

    def db_type(self, connection):
        return "json" if connection.vendor == "postgresql" else super().db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        # psycopg's Json, not Django's Jsonb: sent as json, not parsed into jsonb and printed again.
        return Json(value, dumps=partial(json.dumps, cls=self.encoder) if self.encoder else json.dumps)

    def from_db_value(self, value, expression, connection):
        if value is not None and not isinstance(value, str):
            return value  # psycopg decodes `json` itself (Django asks it for text only for jsonb)
        return super().from_db_value(value, expression, connection)


class TimelineEntry(TenantOwnedModel):
    """One thing that happened to a contact, newest first on GET .../timeline/."""

    tenant = log_tenant()
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    contact_id = models.UUIDField(db_index=False)
    event_id = models.UUIDField(null=True, blank=True)
    event_type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField(default=timezone.now)
    title = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    actor = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=32, blank=True)
    correlation_id = models.CharField(max_length=128, blank=True)

    class Meta:
        indexes = [
            # The only index besides the key: a filter by type reads the one contact's entries through
            # it (a second index by type cost every event an entry; events 0006). Not led by tenant_id:
            # a contact belongs to one tenant, and the narrower entries matter to a bulk change, whose
            # events land on random pages of this index (events 0007).
            models.Index(fields=["contact_id", "-occurred_at"], name="timeline_by_contact_idx"),
        ]


class OutboxEvent(TenantOwnedModel):
    """An event waiting for (or done with) publication, written in the transaction of the change.

    The primary key is a bigint on purpose: the relay publishes in id order, and a sequence gives
    commit-near order cheaply. event_id (UUID) is the identity consumers see.
    """

    tenant = log_tenant()
    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(default=new_id, editable=False)
    event_type = models.CharField(max_length=64)
    aggregate_type = models.CharField(max_length=32)
    aggregate_id = models.UUIDField()
    sequence = models.PositiveBigIntegerField()
    payload = JSONTextField()
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # Set when a sent event is queued again by a replay: the relay's lag counts from here, not from
    # created_at (a replayed week-old event is not a week of lag).
    replayed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "event_id"], name="outbox_event_unique")]
        indexes = [
            models.Index(fields=["id"], condition=models.Q(sent_at__isnull=True), name="outbox_unsent_idx"),
            # Not led by tenant_id, as the timeline's (events 0007).
            models.Index(fields=["aggregate_id", "sequence"], name="outbox_by_aggregate_idx"),
        ]


class ProcessedMessage(models.Model):
    """A message a consumer of this service has applied, written in the same transaction as the change
    it made: a redelivery (same consumer, same event_id) is recognised and dropped. `subject` and
    `occurred_at` let a consumer ignore an event older than one already applied to the same subject.
    """

    id = models.BigAutoField(primary_key=True)
    consumer = models.CharField(max_length=64)
    event_id = models.CharField(max_length=255)
    event_type = models.CharField(max_length=64)
    subject = models.CharField(max_length=255, blank=True)
    occurred_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=16, default="applied")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consumer", "event_id"], name="processed_message_unique")
        ]
        indexes = [
            models.Index(fields=["consumer", "subject", "occurred_at"], name="processed_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.consumer}:{self.event_id}"


class Activity(TenantOwnedModel):
    """Something a contact did that another service reports (email opened, form submitted, order
    placed). Also on the timeline as contact.activity_recorded; kept here for segment rules
    ("had email_opened in the last 30 days") and for idempotency."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    contact_id = models.UUIDField(db_index=False)
    activity_type = models.CharField(max_length=64)
    occurred_at = models.DateTimeField()
    title = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Client-supplied: a second post with the same key (per tenant) is recognised and ignored.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    source = models.CharField(max_length=64, blank=True)
    actor = models.JSONField(default=dict, blank=True)
    recorded_at = models.DateTimeField(default=timezone.now)
    event_id = models.UUIDField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="activity_idempotency_unique",
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "contact_id", "-occurred_at"], name="activity_contact_idx"),
            models.Index(
                fields=["tenant", "activity_type", "contact_id", "-occurred_at"], name="activity_type_idx"
            ),
        ]

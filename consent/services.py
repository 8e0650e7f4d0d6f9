"""Every consent write goes through here: purposes, ledger statements, double opt-in confirmation.

A statement locks the contact row (so statements about one contact are serialised and the event
sequence stays in order), appends a ledger row, moves the current state, and when the status
changed records contact.consent_changed. A pending sign-up over a granted consent is kept in the
ledger as proof that it happened but never downgrades the consent.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from consent.models import (
    DEFAULT_PURPOSES,
    ConsentChannel,
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    ConsentStatus,
    LegalBasis,
)
from contacts.models import ChangeSource, Contact
from contacts.normalization import FieldError, reject_nul
from contacts.services.contacts import _lock as lock_contact
from contacts.services.merges import lock_surviving_contact
from contacts_service.context import Actor, get_correlation_id, tenant_context
from contacts_service.errors import Conflict, NotFound, ServiceError, ValidationFailed
from contacts_service.models import Tenant
from events.services import event_record

TOKEN_SALT = "consent.double-opt-in"
MAX_PROOF_BYTES = 16_384


class TokenInvalid(ServiceError):
    status_code = 400
    code = "invalid_token"


class TokenExpired(ServiceError):
    status_code = 410
    code = "token_expired"


def purposes_create_defaults(*, tenant: Tenant) -> None:
    ConsentPurpose.objects.for_tenant(tenant).bulk_create(
        [
            ConsentPurpose(tenant=tenant, key=k, label=label, description=d)
            for k, label, d in DEFAULT_PURPOSES
        ],
        ignore_conflicts=True,
    )


def purpose_keys(*, tenant: Tenant) -> list[str]:
    return list(ConsentPurpose.objects.for_tenant(tenant).values_list("key", flat=True))


def check_purpose(*, tenant: Tenant, purpose: str, field: str = "purpose") -> None:
    keys = purpose_keys(tenant=tenant)
    if purpose not in keys:
        known = ", ".join(keys) or "none"
        raise ValidationFailed(
            [{"field": field, "code": "invalid_choice",
              "message": f"Unknown purpose {purpose!r}; this tenant's purposes: {known}."}]
        )  # fmt: skip


def _hold_purpose(*, tenant: Tenant, purpose: str) -> bool:
    """Whether the purpose exists, holding its row until the transaction ends (PostgreSQL FOR KEY
    SHARE: statements do not wait for each other, but purpose_delete waits for them, then sees their
    ledger entries)."""
    purposes = ConsentPurpose.objects.for_tenant(tenant).filter(key=purpose).values("pk")
    if connection.vendor != "postgresql":
        return purposes.exists()
    sql, params = purposes.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} FOR KEY SHARE", params)
        return cursor.fetchone() is not None


@transaction.atomic
def purpose_create(*, tenant: Tenant, key: str, label: str = "", description: str = "") -> ConsentPurpose:
    exists = ValidationFailed([{"field": "key", "code": "unique", "message": "This purpose exists already."}])
    if ConsentPurpose.objects.for_tenant(tenant).filter(key=key).exists():
        raise exists
    try:
        with transaction.atomic():
            return ConsentPurpose.objects.for_tenant(tenant).create(
                tenant=tenant, key=key, label=label or key, description=description
            )
    except IntegrityError as exc:  # created concurrently since the check
        raise exists from exc


@transaction.atomic
def purpose_update(*, tenant: Tenant, purpose_id: uuid.UUID, changes: dict[str, Any]) -> ConsentPurpose:
    purpose = ConsentPurpose.objects.for_tenant(tenant).select_for_update().filter(pk=purpose_id).first()
    if purpose is None:
        raise NotFound("Purpose not found.")
    for field in ("label", "description"):  # the key is referenced by the ledger: it never changes
        if field in changes:
            setattr(purpose, field, changes[field])
    purpose.save(update_fields=["label", "description"])
    return purpose


@transaction.atomic
def purpose_delete(*, tenant: Tenant, purpose_id: uuid.UUID) -> None:
    from lists.dynamic import refuse_if_named, segments_naming_field

    purpose = ConsentPurpose.objects.for_tenant(tenant).select_for_update().filter(pk=purpose_id).first()
    if purpose is None:
        raise NotFound("Purpose not found.")
    if ConsentRecord.objects.for_tenant(tenant).filter(purpose=purpose.key).exists():
        raise Conflict(
            "This purpose is in the consent ledger of some contacts; the ledger is kept, so it stays.",
            field="key",
            code="in_use",
        )
    if _imports_mapping(tenant, purpose.key):
        raise Conflict(
            "An import that is queued or running maps a column to this purpose: delete it once the "
            "import ends (or cancel the import).",
            field="key",
            code="in_use",
        )
    # A segment's rules on consent.<channel>.<key> would stop following contacts without a word.
    fields = [f"consent.{channel}.{purpose.key}" for channel in ConsentChannel.values]
    refuse_if_named(segments_naming_field(tenant=tenant, fields=fields), purpose.key)
    ConsentPurpose.objects.for_tenant(tenant).filter(pk=purpose.pk).delete()


def _imports_mapping(tenant: Tenant, key: str) -> bool:
    """Whether a queued or running import writes consent for purpose `key` (its ledger entries would
    outlive the purpose)."""
    from imports.models import ImportJob, ImportStatus

    running = [ImportStatus.QUEUED, ImportStatus.RUNNING]
    active = ImportJob.objects.for_tenant(tenant).filter(status__in=running)
    return any(
        isinstance(target, str) and target.startswith("consent.") and target.rsplit(".", 1)[-1] == key
        for mapping in active.values_list("mapping", flat=True)
        for target in (mapping or {}).values()
    )


@dataclass
class Confirmation:
    token: str
    url: str
    expires_at: datetime


@dataclass
class ConsentResult:
    record: ConsentRecord
    state: ConsentState | None
    changed: bool
    confirmation: Confirmation | None = None


def _validate_proof(proof: Any) -> dict:
    if proof is None:
        return {}
    if not isinstance(proof, dict):
        raise ValidationFailed([{"field": "proof", "code": "invalid", "message": "Must be a JSON object."}])
    try:
        reject_nul(proof, "proof")
    except FieldError as exc:
        raise ValidationFailed([exc.as_dict()]) from exc
    # Bytes of its UTF-8 JSON (as stored), not of json.dumps' ASCII escapes (6-12 characters a letter).
    if len(json.dumps(proof, ensure_ascii=False).encode("utf-8", "surrogatepass")) > MAX_PROOF_BYTES:
        raise ValidationFailed(
            [{"field": "proof", "code": "too_large", "message": f"At most {MAX_PROOF_BYTES} bytes of JSON."}]
        )
    return proof


TITLES = {
    ConsentStatus.GRANTED: "{channel} consent for {purpose} granted",
    ConsentStatus.REVOKED: "{channel} consent for {purpose} revoked",
    ConsentStatus.PENDING: "{channel} consent for {purpose} awaiting confirmation",
}


def consent_event_data(record: ConsentRecord, old: str | None, *, double_opt_in: bool = False) -> dict:
    """The data of contact.consent_changed for a ledger entry that moved the state from `old`."""
    return {
        "contact_id": str(record.contact_id),
        "channel": record.channel,
        "purpose": record.purpose,
        "old": old,
        "new": record.status,
        "source": record.source,
        "legal_basis": record.legal_basis,
        "record_id": str(record.pk),
        "double_opt_in": double_opt_in,
    }


def consent_event_title(record: ConsentRecord) -> str:
    return TITLES[ConsentStatus(record.status)].format(
        channel=record.channel.capitalize(), purpose=record.purpose
    )


def _apply(
    *,
    tenant: Tenant,
    contact: Contact,
    actor: Actor,
    channel: str,
    purpose: str,
    status: str,
    legal_basis: str,
    source: str,
    proof: dict,
    ip_address: str | None,
    user_agent: str,
    request_ip: str | None,
    confirms: ConsentRecord | None = None,
) -> ConsentResult:
    """Append one statement and move the state; the caller holds the contact's row lock."""
    now = timezone.now()
    state = (
        ConsentState.objects.for_tenant(tenant)
        .filter(contact=contact, channel=channel, purpose=purpose)
        .select_related("record")
        .first()
    )
    old = state.status if state else None
    no_downgrade = status == ConsentStatus.PENDING and old == ConsentStatus.GRANTED
    record = ConsentRecord(
        tenant=tenant,
        contact=contact,
        channel=channel,
        purpose=purpose,
        status=status,
        legal_basis=legal_basis,
        source=source,
        proof=proof,
        ip_address=ip_address,
        user_agent=(user_agent or "")[:512],
        request_ip=request_ip,
        actor=actor.as_dict(),
        correlation_id=get_correlation_id(),
        recorded_at=now,
        applied=not no_downgrade,
        confirms=confirms,
    )
    changed = not no_downgrade and old != status
    change_source = ChangeSource.API if actor.type != "system" else ChangeSource.SYSTEM
    if changed:
        contact.event_sequence += 1
        contact.save(update_fields=["event_sequence"])
        outbox = event_record(
            tenant=tenant,
            event_type="contact.consent_changed",
            aggregate_type="contact",
            aggregate_id=contact.pk,
            sequence=contact.event_sequence,
            data=consent_event_data(record, old, double_opt_in=confirms is not None),
            actor=actor,
            source=change_source,
            title=consent_event_title(record),
        )
        record.event_id = outbox.event_id
    try:
        with transaction.atomic():
            record.save(force_insert=True)
    except IntegrityError as exc:  # confirms is unique: a concurrent confirmation of the same token won
        raise Conflict("This confirmation link has been used already.", code="token_used") from exc
    if not no_downgrade:
        if state is None:
            state = ConsentState(tenant=tenant, contact=contact, channel=channel, purpose=purpose)
        state.status = status
        state.legal_basis = legal_basis
        state.source = source
        state.record = record
        state.updated_at = now
        if confirms is not None:
            state.confirmed_at = now
        elif status != ConsentStatus.GRANTED or old != ConsentStatus.GRANTED:
            state.confirmed_at = (
                None  # a confirmed consent granted again stays confirmed; any change clears it
            )
        state.save()
    if changed:
        from lists.dynamic import segments_refresh_contact  # segments may filter on consent

        # The statement's own source (up to 64 characters) stays in the ledger; the list events say
        # how the change came, as the consent event does.
        segments_refresh_contact(tenant=tenant, contact_id=contact.pk, actor=actor, source=change_source)
    return ConsentResult(record=record, state=state, changed=changed)


@transaction.atomic
def consent_record(
    *,
    tenant: Tenant,
    actor: Actor,
    contact_id: uuid.UUID,
    channel: str,
    purpose: str,
    status: str,
    legal_basis: str = LegalBasis.CONSENT,
    source: str = "",
    proof: Any = None,
    ip_address: str | None = None,
    user_agent: str = "",
    request_ip: str | None = None,
    confirm_url: str = "",
) -> ConsentResult:
    """Record a statement about a contact's consent. `pending` starts a double opt-in: the result
    carries a signed token (and the link to send) unless a granted consent makes it moot."""
    check_purpose(tenant=tenant, purpose=purpose)
    proof = _validate_proof(proof)
    contact = lock_contact(tenant=tenant, contact_id=contact_id)
    if not _hold_purpose(tenant=tenant, purpose=purpose):  # deleted since the check
        check_purpose(tenant=tenant, purpose=purpose)
    result = _apply(
        tenant=tenant,
        contact=contact,
        actor=actor,
        channel=channel,
        purpose=purpose,
        status=status,
        legal_basis=legal_basis,
        source=source or "api",
        proof=proof,
        ip_address=ip_address,
        user_agent=user_agent,
        request_ip=request_ip,
    )
    if status == ConsentStatus.PENDING and result.record.applied:
        token = signing.TimestampSigner(salt=TOKEN_SALT).sign_object(
            {"t": str(tenant.pk), "r": str(result.record.pk)}
        )
        result.confirmation = Confirmation(
            token=token,
            url=confirm_url.replace("{token}", token),
            expires_at=result.record.recorded_at + timedelta(seconds=settings.CONSENT_CONFIRMATION_MAX_AGE),
        )
    return result


def _read_token(token: str) -> tuple[uuid.UUID, uuid.UUID]:
    signer = signing.TimestampSigner(salt=TOKEN_SALT)
    try:
        value = signer.unsign_object(token, max_age=settings.CONSENT_CONFIRMATION_MAX_AGE)
        return uuid.UUID(value["t"]), uuid.UUID(value["r"])
    except signing.SignatureExpired as exc:
        raise TokenExpired("This confirmation link has expired; sign up again to get a new one.") from exc
    except (signing.BadSignature, ValueError, TypeError, KeyError) as exc:
        raise TokenInvalid("This confirmation link is not valid.", field="token") from exc


def consent_confirm(*, token: str, ip_address: str | None, user_agent: str) -> ConsentResult:
    """Confirm a double opt-in: once, before it expires, unless the consent was revoked since."""
    tenant_id, record_id = _read_token(token)
    tenant = Tenant.objects.filter(pk=tenant_id, is_active=True).first()
    if tenant is None:
        raise NotFound("This confirmation link no longer leads anywhere.")
    with tenant_context(tenant), transaction.atomic():
        pending = ConsentRecord.objects.for_tenant(tenant).filter(pk=record_id).first()
        if pending is None or pending.status != ConsentStatus.PENDING:
            raise NotFound("This confirmation link no longer leads anywhere.")
        contact = lock_surviving_contact(tenant, pending.contact_id)
        if ConsentRecord.objects.for_tenant(tenant).filter(confirms=pending).exists():
            raise Conflict("This confirmation link has been used already.", code="token_used")
        revoked_since = ConsentRecord.objects.for_tenant(tenant).filter(
            # the contact's own revocations, and those of the contact that signed up, merged into it since
            contact_id__in={contact.pk, pending.contact_id},
            channel=pending.channel,
            purpose=pending.purpose,
            status=ConsentStatus.REVOKED,
            recorded_at__gt=pending.recorded_at,
            applied=True,  # not a merge's bookkeeping entry, which changed nothing
        )
        if revoked_since.exists():
            raise Conflict(
                "The consent was withdrawn after this sign-up; this link cannot grant it again.",
                code="token_superseded",
            )
        return _apply(
            tenant=tenant,
            contact=contact,
            actor=Actor(type="contact", id=str(contact.pk), label="the contact (double opt-in)"),
            channel=pending.channel,
            purpose=pending.purpose,
            status=ConsentStatus.GRANTED,
            legal_basis=pending.legal_basis,
            source="double_opt_in",
            proof={"confirmed_record": str(pending.pk), "signup_source": pending.source},
            ip_address=ip_address,
            user_agent=user_agent,
            request_ip=ip_address,
            confirms=pending,
        )

"""Writes of the tenancy kernel: tenants, memberships, API keys."""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from contacts_service.errors import NotFound, ValidationFailed
from contacts_service.models import (
    API_KEY_PREFIX,
    ApiKey,
    Membership,
    Plan,
    Tenant,
    User,
    api_key_hash,
    plan_names,
)
from contacts_service.roles import Role

_PREFIX_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class IssuedApiKey:
    """A new key: `key` is the only time the secret exists outside the caller's hands."""

    api_key: ApiKey
    key: str


def _check_text(field: str, value: str, *, max_length: int) -> None:
    """What the column cannot hold, refused before the INSERT (a DataError there is a traceback in
    the management commands): more than its characters, or a NUL (PostgreSQL text cannot hold one)."""
    if len(value) > max_length:
        raise ValidationFailed(
            [{"field": field, "code": "max_length", "message": f"{field}: at most {max_length} characters."}]
        )
    if "\x00" in value:
        raise ValidationFailed(
            [
                {
                    "field": field,
                    "code": "null_characters_not_allowed",
                    "message": f"{field}: no NUL characters.",
                }
            ]
        )


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationFailed(
            [
                {
                    "field": "role",
                    "code": "invalid_choice",
                    "message": f"Must be one of: {', '.join(Role.values)}.",
                }
            ]
        )


@transaction.atomic
def apikey_create(
    *, tenant: Tenant, name: str, role: str, created_by: User | None = None, expires_at=None
) -> IssuedApiKey:
    """Issue a key; only its SHA-256 is stored, the prefix stays visible for recognition."""
    _check_role(role)
    if not name.strip():
        raise ValidationFailed([{"field": "name", "code": "blank", "message": "A key needs a name."}])
    _check_text("name", name.strip(), max_length=ApiKey._meta.get_field("name").max_length)
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed(
            [{"field": "expires_at", "code": "invalid", "message": "Must be in the future."}]
        )
    prefix = "".join(secrets.choice(_PREFIX_ALPHABET) for _ in range(10))
    key = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        tenant=tenant,
        name=name.strip(),
        role=role,
        prefix=prefix,
        key_hash=api_key_hash(key),
        created_by=created_by,
        expires_at=expires_at,
    )
    return IssuedApiKey(api_key=api_key, key=key)


def apikey_revoke(*, tenant: Tenant | None, prefix_or_id: str) -> ApiKey:
    """Revoke by id or by visible prefix ("csk_ab12..." or "ab12..."); revoking twice is harmless."""
    if "\x00" in prefix_or_id:
        # No key holds one, and PostgreSQL cannot compare text with one (a DataError, not "not found").
        raise ValidationFailed(
            [{"field": "key", "code": "null_characters_not_allowed", "message": "key: no NUL characters."}]
        )
    prefix = prefix_or_id.removeprefix(f"{API_KEY_PREFIX}_")
    keys = ApiKey.objects.all() if tenant is None else ApiKey.objects.filter(tenant=tenant)
    api_key = keys.filter(prefix=prefix).first()
    if api_key is None:
        try:
            api_key = keys.filter(pk=uuid.UUID(prefix_or_id)).first()
        except ValueError:
            api_key = None
    if api_key is None:
        raise NotFound("API key not found.")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


@transaction.atomic
def membership_set(*, tenant: Tenant, user: User, role: str) -> Membership:
    _check_role(role)
    membership, _ = Membership.objects.update_or_create(tenant=tenant, user=user, defaults={"role": role})
    return membership


def user_get_or_create(*, email: str, password: str | None = None) -> User:
    """The user with this email (any case), or a new one. A new user's username is the email; an email
    over the 150 characters of username (emails go to 254), or one another user already has as
    username, gets its first 133 characters, "-" and 16 hex digits of its SHA-256: unique per email,
    so two long emails sharing their first 150 characters are two users, not an IntegrityError."""
    import hashlib  # here, not at the top: only this function derives usernames

    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        username = email
        if len(username) > 150 or User.objects.filter(username=username).exists():
            username = f"{email[:133]}-{hashlib.sha256(email.encode()).hexdigest()[:16]}"
        user = User(username=username, email=email)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
    elif password:
        user.set_password(password)
        user.save(update_fields=["password"])
    return user


@dataclass(frozen=True)
class CreatedTenant:
    tenant: Tenant
    owner: User
    issued: IssuedApiKey


@transaction.atomic
def tenant_create(
    *, name: str, owner_email: str, owner_password: str | None = None, plan: str = Plan.STANDARD
) -> CreatedTenant:
    """A tenant on a plan (its rate limits), its owner (created or reused by email) and an owner API key."""
    if not name.strip():
        raise ValidationFailed([{"field": "name", "code": "blank", "message": "A tenant needs a name."}])
    _check_text("name", name.strip(), max_length=Tenant._meta.get_field("name").max_length)
    if not owner_email.strip():
        # An empty email would reuse whichever user has none (e.g. a platform user known by subject only).
        raise ValidationFailed(
            [{"field": "owner_email", "code": "blank", "message": "A tenant needs an owner email."}]
        )
    _check_text("owner_email", owner_email.strip(), max_length=User._meta.get_field("email").max_length)
    plans = plan_names()  # the built-in plans and those RATE_LIMIT_PLANS adds
    if plan not in plans:
        raise ValidationFailed(
            [{"field": "plan", "code": "invalid_choice", "message": f"Plan: one of {', '.join(plans)}."}]
        )
    tenant = Tenant.objects.create(name=name.strip(), plan=plan)
    owner = user_get_or_create(email=owner_email, password=owner_password)
    membership_set(tenant=tenant, user=owner, role=Role.OWNER)
    issued = apikey_create(tenant=tenant, name="owner", role=Role.OWNER, created_by=owner)
    return CreatedTenant(tenant=tenant, owner=owner, issued=issued)

"""Authentication (API keys, platform JWTs) and the tenant a request acts for."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

import jwt
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import authentication, exceptions

from contacts_service.context import Actor
from contacts_service.models import API_KEY_PREFIX, ApiKey, Membership, Tenant, User
from contacts_service.roles import ROLE_PERMISSIONS

TENANT_HEADER = "X-Tenant-ID"
_LAST_USED_GRANULARITY = timedelta(minutes=1)


class ApiKeyPrincipal:
    """request.user for API-key requests: authenticated, but not a Django user."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None

    def __init__(self, api_key: ApiKey):
        self.api_key = api_key

    def __str__(self) -> str:
        return self.api_key.display_prefix


_API_KEY_RE = re.compile(rf"^{API_KEY_PREFIX}_([a-z0-9]{{1,16}})_[A-Za-z0-9_\-]{{16,128}}$")


def parse_api_key(raw: str) -> tuple[str, str] | None:
    """'csk_<prefix>_<secret>' -> (prefix, full key) or None when it cannot be one of ours."""
    match = _API_KEY_RE.match(raw)
    return (match.group(1), raw) if match else None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key csk_<prefix>_<secret>`; the key fixes the tenant and the role."""

    keyword = "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(f"{self.keyword} "):
            return None
        parsed = parse_api_key(header[len(self.keyword) + 1 :].strip())
        if parsed is None:
            raise exceptions.AuthenticationFailed("Malformed API key.")
        prefix, raw = parsed
        api_key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
        if api_key is None or not api_key.matches(raw):
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not api_key.is_usable:
            raise exceptions.AuthenticationFailed("API key revoked or expired.")
        now = timezone.now()
        if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_GRANULARITY:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return ApiKeyPrincipal(api_key), api_key

    def authenticate_header(self, request) -> str:
        # DRF answers every 401 with the first authentication class's challenge (this one): a refused
        # Bearer token gets the Bearer challenge instead.
        if authentication.get_authorization_header(request).startswith(
            f"{JWTAuthentication.keyword} ".encode()
        ):
            return JWTAuthentication().authenticate_header(request)
        return f'{self.keyword} realm="api"'


class JWTAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <JWT>` issued by the platform's auth service.

    The signature is checked with JWT_VERIFYING_KEY and JWT_ALGORITHM only (never the token's
    own "alg"), and exp/nbf/aud/iss when configured. The user cache is keyed on "sub".
    """

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header.startswith(f"{self.keyword} "):
            return None
        token = header[len(self.keyword) + 1 :].strip()
        if not settings.JWT_VERIFYING_KEY:
            raise exceptions.AuthenticationFailed("Bearer tokens are not accepted: no JWT key configured.")
        try:
            claims = jwt.decode(
                token,
                settings.JWT_VERIFYING_KEY,
                algorithms=[settings.JWT_ALGORITHM],
                audience=settings.JWT_AUDIENCE,
                issuer=settings.JWT_ISSUER,
                leeway=settings.JWT_LEEWAY_SECONDS,
                # JWT_AUDIENCE unset means "not checked" (operations.md); PyJWT would otherwise refuse
                # every token carrying an `aud` claim ("Invalid audience").
                options={"require": ["sub", "exp"], "verify_aud": settings.JWT_AUDIENCE is not None},
            )
        except jwt.ExpiredSignatureError as exc:
            raise exceptions.AuthenticationFailed("Token expired.") from exc
        except jwt.PyJWTError as exc:
            raise exceptions.AuthenticationFailed(f"Invalid token: {exc}") from exc
        subject = str(claims["sub"])
        if not subject or len(subject) > 255 or "\x00" in subject or not _storable(subject):
            raise exceptions.AuthenticationFailed("Invalid token: unusable subject.")
        user = User.objects.filter(auth_subject=subject).first()
        if user is None:
            user = _user_from_claims(subject, claims)
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive.")
        return user, claims

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'


def _storable(text: str) -> bool:
    """Text the database can hold: JSON's \ud800 escapes decode to lone surrogates, which UTF-8 cannot
    encode (the query failed with a 500)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _user_from_claims(subject: str, claims: dict) -> User:
    """First sight of a platform user: link them to the local user with the same verified email
    (an owner created with tenant_create), or cache a new user keyed on the subject."""
    email = str(claims.get("email") or "").strip().lower()
    if (
        len(email) > 254
        or "\x00" in email
        or not _storable(email)
        or claims.get("email_verified") is not True
    ):
        # An unverified email is not kept either: tenant_create --owner <email> makes the user holding
        # it the owner, which would have been whoever first claimed it in a token.
        email = ""
    with transaction.atomic():
        if email:
            existing = User.objects.select_for_update().filter(email__iexact=email).first()
            if existing is not None:
                if existing.auth_subject is None:
                    existing.auth_subject = subject
                    existing.save(update_fields=["auth_subject"])
                    return existing
                email = ""  # held by another local user: never merge identities on an unverified claim
        username = "auth:" + hashlib.sha256(subject.encode()).hexdigest()[:40]
        user, _ = User.objects.get_or_create(
            auth_subject=subject, defaults={"username": username, "email": email}
        )
    return user


@dataclass(frozen=True)
class TenantAccess:
    """The tenant a request acts for, with the caller's role and identity in it."""

    tenant: Tenant
    role: str
    actor: Actor

    @property
    def permissions(self) -> frozenset[str]:
        return ROLE_PERMISSIONS.get(self.role, frozenset())


def resolve_tenant_access(request) -> TenantAccess:
    """Decide the tenant from the credential; never honour a tenant the caller is not in."""
    header = (request.headers.get(TENANT_HEADER) or "").strip()
    tenant_id = None
    if header:
        try:
            tenant_id = uuid.UUID(header)
        except ValueError as exc:
            raise exceptions.ValidationError({TENANT_HEADER: ["Must be a tenant id (UUID)."]}) from exc
    if isinstance(request.auth, ApiKey):
        api_key = request.auth
        if tenant_id is not None and tenant_id != api_key.tenant_id:
            raise exceptions.PermissionDenied("This API key belongs to another tenant.")
        actor = Actor(type="api_key", id=str(api_key.pk), label=api_key.display_prefix)
        return TenantAccess(tenant=api_key.tenant, role=api_key.role, actor=actor)

    user = request.user
    if not user or not user.is_authenticated:
        raise exceptions.NotAuthenticated()
    memberships = Membership.objects.select_related("tenant").filter(user=user, tenant__is_active=True)
    if tenant_id is not None:
        membership = memberships.filter(tenant_id=tenant_id).first()
        if membership is None:
            raise exceptions.PermissionDenied("You are not a member of this tenant.")
    else:
        found = list(memberships[:2])
        if len(found) != 1:
            raise exceptions.PermissionDenied(
                f"Choose a tenant with the {TENANT_HEADER} header."
                if found
                else "You are not a member of any tenant."
            )
        membership = found[0]
    actor = Actor(type="user", id=str(user.pk), label=user.email or user.get_username())
    return TenantAccess(tenant=membership.tenant, role=membership.role, actor=actor)

"""Tenants, users, memberships and API keys."""

from __future__ import annotations

import hashlib
import hmac

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from contacts_service.ids import new_id
from contacts_service.roles import Role


class User(AbstractUser):
    """A person: an operator of the admin or a platform user known from the auth service."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    email = models.EmailField("email address", blank=True)
    # Subject ("sub") of the platform auth service's tokens; the local user cache is keyed on it.
    auth_subject = models.CharField(max_length=255, null=True, blank=True, unique=True)

    objects = UserManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"), condition=~models.Q(email=""), name="user_email_unique_ci"
            )
        ]


class Plan(models.TextChoices):
    """A tenant's plan: picks its rate limits in RATE_LIMIT_PLANS."""

    FREE = "free", "Free"
    STANDARD = "standard", "Standard"
    ENTERPRISE = "enterprise", "Enterprise"


def plan_names() -> list[str]:
    """The plans a tenant may be on: the built-in ones, then the others RATE_LIMIT_PLANS defines."""
    from django.conf import settings

    return [*Plan.values, *(name for name in settings.RATE_LIMIT_PLANS if name not in Plan.values)]


def plan_choices() -> list[tuple[str, str]]:
    """Tenant.plan's choices, read when used (forms, validation, the admin's filter), so that a
    plan added to RATE_LIMIT_PLANS can be given to a tenant without a migration."""
    labels = dict(Plan.choices)
    return [(name, labels.get(name, name)) for name in plan_names()]


class Tenant(models.Model):
    """An organisation whose contacts this service keeps; every tenant-owned row points here."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=32, choices=plan_choices, default=Plan.STANDARD)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one tenant."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.tenant} as {self.role}"


API_KEY_PREFIX = "csk"


def api_key_hash(secret: str) -> str:
    # Keys carry 256 bits of randomness, so a fast hash is enough (no brute force to slow down)
    # and keeps authentication to one indexed lookup per request.
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(models.Model):
    """A credential of one tenant with one role; only its hash is stored."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    role = models.CharField(max_length=32, choices=Role.choices)
    # The visible part: "csk_<prefix>"; shown in lists so a key can be recognised and revoked.
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{API_KEY_PREFIX}_{self.prefix} ({self.name})"

    @property
    def display_prefix(self) -> str:
        return f"{API_KEY_PREFIX}_{self.prefix}"

    @property
    def is_usable(self) -> bool:
        if self.revoked_at is not None or not self.tenant.is_active:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    def matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.key_hash, api_key_hash(secret))

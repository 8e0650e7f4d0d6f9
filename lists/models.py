"""Contact lists and list membership."""

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from guardian.models import UserObjectPermissionBase

from contacts_service.ids import new_id
from contacts_service.tenancy import TenantOwnedModel
from events.models import log_tenant


class ListKind(models.TextChoices):
    STATIC = "static", "Static"
    DYNAMIC = "dynamic", "Dynamic"


class ListStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class ContactList(TenantOwnedModel):
    """A named set of contacts: members added by hand (static) or matching saved rules (dynamic)."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    name = models.CharField(max_length=150)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=ListKind.choices, default=ListKind.STATIC)
    status = models.CharField(max_length=16, choices=ListStatus.choices, default=ListStatus.ACTIVE)
    rules = models.JSONField(null=True, blank=True)
    created_by = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint("tenant", Lower("name"), name="list_name_unique_ci")]
        ordering = ["name"]
        # Granted per list with django-guardian (POST /lists/{id}/shares/): lets a member whose role
        # lacks lists.manage change this one list's members and settings.
        permissions = [("manage_list", "Can manage this list's members and settings")]

    def __str__(self) -> str:
        return self.name


class ListMembership(TenantOwnedModel):
    """A contact in a list: since when, added by whom."""

    tenant = log_tenant()  # written by the thousand: no index of its own, no constraint (lists 0003)
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    contact_list = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="memberships")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="list_memberships")
    added_at = models.DateTimeField(default=timezone.now)
    added_by = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "contact_list", "contact"], name="list_membership_unique"
            ),
        ]
        # A contact's memberships: through the contact foreign key's own index (lists 0003).
        indexes = [
            models.Index(fields=["tenant", "contact_list", "-added_at"], name="list_membership_added_idx"),
        ]


class ContactListUserPermission(UserObjectPermissionBase):
    """Guardian grant on one list (direct foreign key: deleted with the list, joinable in SQL)."""

    content_object = models.ForeignKey(ContactList, on_delete=models.CASCADE, related_name="user_grants")

"""Tags and tag assignments."""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from contacts_service.ids import new_id
from contacts_service.tenancy import TenantOwnedModel
from events.models import log_tenant

DEFAULT_COLOR = "#6B7280"
color_validator = RegexValidator(r"^#[0-9A-Fa-f]{6}$", "Must be a colour as #RRGGBB.")


class Tag(TenantOwnedModel):
    """A label a tenant puts on contacts; the name is unique per tenant ignoring case."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default=DEFAULT_COLOR, validators=[color_validator])
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint("tenant", Lower("name"), name="tag_name_unique_ci")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TagAssignment(TenantOwnedModel):
    """A tag on a contact: who put it there and when."""

    tenant = log_tenant()  # written by the thousand: no index of its own, no constraint (tags 0002)
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="assignments")
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="tag_assignments")
    added_at = models.DateTimeField(default=timezone.now)
    added_by = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "tag", "contact"], name="tag_assignment_unique"),
        ]
        # A contact's assignments: through the contact foreign key's own index (tags 0002).

from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from lists.models import ContactList


@admin.register(ContactList)
class ContactListAdmin(GuardedModelAdmin):
    """Lists of every tenant (read-only: membership changes go through the API so events are written).
    "Object permissions" shows and edits who a list is shared with (manage_list)."""

    list_display = ["name", "kind", "status", "tenant", "created_at"]
    list_filter = ["tenant", "kind", "status"]
    search_fields = ["name"]
    readonly_fields = [
        "tenant",
        "name",
        "description",
        "kind",
        "status",
        "rules",
        "created_by",
        "created_at",
        "updated_at",
    ]

    def get_queryset(self, request):
        return ContactList.objects.unscoped().select_related("tenant")

    def has_add_permission(self, request):
        return False

from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from contacts.admin import admin_actor
from contacts.models import ChangeSource
from contacts_service.context import tenant_context
from lists.models import ContactList


@admin.register(ContactList)
class ContactListAdmin(GuardedModelAdmin):
    """Lists of every tenant (read-only: membership changes go through the API so events are written).
    "Object permissions" shows and edits who a list is shared with (manage_list). Deleting a list here
    goes through the API's service: each member leaves with its contact.removed_from_list event."""

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

    def delete_model(self, request, obj):
        from lists.services import list_delete

        with tenant_context(obj.tenant):
            actor = admin_actor(request)
            list_delete(tenant=obj.tenant, actor=actor, list_id=obj.pk, source=ChangeSource.ADMIN)

    def delete_queryset(self, request, queryset):
        for contact_list in queryset.select_related("tenant"):
            self.delete_model(request, contact_list)

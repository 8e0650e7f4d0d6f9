from django.contrib import admin

from contacts.admin import TenantAdminMixin, admin_actor
from contacts.models import ChangeSource
from contacts_service.context import tenant_context
from tags.models import Tag


@admin.register(Tag)
class TagAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Tags of every tenant; assignments change through the API so events are written. Deleting a tag
    here goes through the same service as the API: each contact that had it is untagged with its
    contact.untagged event (Django's own delete would drop the assignments silently)."""

    list_display = ["name", "color", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    readonly_fields = ["tenant", "name", "color", "description", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False

    def delete_model(self, request, obj):
        from tags.services import tag_delete

        with tenant_context(obj.tenant):
            actor = admin_actor(request)
            tag_delete(tenant=obj.tenant, actor=actor, tag_id=obj.pk, source=ChangeSource.ADMIN)

    def delete_queryset(self, request, queryset):
        for tag in queryset.select_related("tenant"):
            self.delete_model(request, tag)

from django.contrib import admin

from tags.models import Tag


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    """Tags of every tenant; assignments change through the API so events are written."""

    list_display = ["name", "color", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name"]
    readonly_fields = ["tenant", "name", "color", "description", "created_at", "updated_at"]

    def get_queryset(self, request):
        return Tag.objects.unscoped().select_related("tenant")

    def has_add_permission(self, request):
        return False

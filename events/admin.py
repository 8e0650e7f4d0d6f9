from django.contrib import admin

from contacts_service.admin_search import BoundedSearchMixin
from events.models import OutboxEvent, ProcessedMessage


@admin.register(OutboxEvent)
class OutboxEventAdmin(BoundedSearchMixin, admin.ModelAdmin):
    """Read-only view of the outbox for support."""

    list_display = [
        "id",
        "event_type",
        "tenant",
        "aggregate_id",
        "sequence",
        "created_at",
        "sent_at",
        "attempts",
    ]
    list_filter = ["tenant", "event_type", ("sent_at", admin.EmptyFieldListFilter)]
    search_fields = ["=event_id", "=aggregate_id"]
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    show_full_result_count = False

    def get_queryset(self, request):
        return OutboxEvent.objects.unscoped().select_related("tenant")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ProcessedMessage)
class ProcessedMessageAdmin(BoundedSearchMixin, admin.ModelAdmin):
    """Read-only: the messages consumers applied (deduplication by event_id)."""

    list_display = ["event_id", "consumer", "event_type", "subject", "occurred_at", "processed_at", "outcome"]
    list_filter = ["consumer", "event_type", "outcome"]
    search_fields = ["=event_id", "=subject"]
    readonly_fields = [f.name for f in ProcessedMessage._meta.fields]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

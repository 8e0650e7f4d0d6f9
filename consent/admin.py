from django.contrib import admin

from consent.models import ConsentPurpose, ConsentRecord, ConsentState


class _ReadOnlyAdmin(admin.ModelAdmin):
    """Consent changes only through the API (ledger + state + event together); the ledger never
    changes at all. Operators can look, not touch."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ConsentRecord)
class ConsentRecordAdmin(_ReadOnlyAdmin):
    list_display = ["recorded_at", "contact_id", "channel", "purpose", "status", "legal_basis", "source",
                    "applied", "tenant"]  # fmt: skip
    list_filter = ["channel", "status", "legal_basis", "tenant"]
    search_fields = ["contact__id", "purpose", "source"]
    date_hierarchy = "recorded_at"
    fields = ["id", "tenant", "contact_id", "channel", "purpose", "status", "legal_basis", "source", "proof",
              "ip_address", "user_agent", "request_ip", "actor", "correlation_id", "recorded_at", "applied",
              "confirms_id", "event_id"]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        return ConsentRecord.objects.unscoped().select_related("tenant")


@admin.register(ConsentState)
class ConsentStateAdmin(_ReadOnlyAdmin):
    list_display = ["contact_id", "channel", "purpose", "status", "confirmed_at", "updated_at", "tenant"]
    list_filter = ["channel", "status", "tenant"]
    fields = ["id", "tenant", "contact_id", "channel", "purpose", "status", "legal_basis", "source",
              "record_id", "confirmed_at", "updated_at"]  # fmt: skip
    readonly_fields = fields

    def get_queryset(self, request):
        return ConsentState.objects.unscoped().select_related("tenant")


@admin.register(ConsentPurpose)
class ConsentPurposeAdmin(admin.ModelAdmin):
    list_display = ["key", "label", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["key", "label"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return ConsentPurpose.objects.unscoped().select_related("tenant")

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "key", "created_at"] if obj else ["created_at"]

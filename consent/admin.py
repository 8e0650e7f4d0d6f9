from django import forms
from django.contrib import admin

from consent.models import ConsentPurpose, ConsentRecord, ConsentState
from contacts_service.admin_delete import ServiceDeleteMixin
from contacts_service.admin_search import BoundedSearchMixin
from contacts_service.context import tenant_context


class _ReadOnlyAdmin(BoundedSearchMixin, admin.ModelAdmin):
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


class _PurposeForm(forms.ModelForm):
    # Bounded as the API bounds it (ConsentPurposeInputSerializer); the model's TextField is not.
    description = forms.CharField(max_length=2000, required=False, widget=forms.Textarea)

    class Meta:
        model = ConsentPurpose
        fields = ["tenant", "key", "label", "description"]

    def _post_clean(self):
        """The model's checks (the unique key per tenant) read through its tenant-scoped manager: run
        them in the purpose's tenant (the one chosen on an add page, the row's own on a change page)."""
        tenant = self.cleaned_data.get("tenant") or (
            self.instance.tenant if self.instance.tenant_id else None
        )
        if tenant is None:  # no tenant chosen: that field's own error says so
            return super()._post_clean()
        with tenant_context(tenant):
            return super()._post_clean()


@admin.register(ConsentPurpose)
class ConsentPurposeAdmin(ServiceDeleteMixin, BoundedSearchMixin, admin.ModelAdmin):
    """Purposes of every tenant. A purpose named in a tenant's consent ledger cannot be deleted (the
    ledger is kept), as through the API: its delete page and a delete action selecting it are refused."""

    form = _PurposeForm
    list_display = ["key", "label", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["key", "label"]
    readonly_fields = ["created_at"]

    def get_queryset(self, request):
        return ConsentPurpose.objects.unscoped().select_related("tenant")

    def get_readonly_fields(self, request, obj=None):
        return ["tenant", "key", "created_at"] if obj else ["created_at"]

    @staticmethod
    def _in_ledger(purpose: ConsentPurpose) -> bool:
        return (
            ConsentRecord.objects.unscoped().filter(tenant_id=purpose.tenant_id, purpose=purpose.key).exists()
        )

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and self._in_ledger(obj))

    def delete_one(self, request, purpose) -> None:
        """Through the API's service, which locks the purpose before it checks the ledger (a consent
        being recorded meanwhile cannot slip in), the imports under way and the segments' rules."""
        from consent.services import purpose_delete

        purpose_delete(tenant=purpose.tenant, purpose_id=purpose.pk)

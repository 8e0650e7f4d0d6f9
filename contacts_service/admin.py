"""Operators' admin for tenants, users, memberships and API keys (staff only)."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin

from contacts_service import services
from contacts_service.models import ApiKey, Membership, Tenant, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "id", "plan", "is_active", "created_at"]
    list_filter = ["plan", "is_active"]
    search_fields = ["name", "id"]
    inlines = [MembershipInline]


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    list_display = ["username", "email", "auth_subject", "is_staff", "is_active"]
    search_fields = ["username", "email", "auth_subject"]
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Auth service", {"fields": ["auth_subject"]}))


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    autocomplete_fields = ["user", "tenant"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["display_prefix", "name", "tenant", "role", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["name", "prefix"]
    fields = [
        "tenant",
        "name",
        "role",
        "expires_at",
        "display_prefix",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    readonly_fields = ["display_prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [*self.readonly_fields, "tenant", "role"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        issued = services.apikey_create(
            tenant=obj.tenant,
            name=obj.name,
            role=obj.role,
            created_by=request.user,
            expires_at=obj.expires_at,
        )
        obj.pk = issued.api_key.pk
        obj._state.adding = False
        messages.warning(request, f"New API key (shown once, copy it now): {issued.key}")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead, so last_used_at and audit stay

    def has_revoke_permission(self, request) -> bool:
        return request.user.has_perm("contacts_service.delete_apikey")  # revoking is this admin's delete

    @admin.action(description="Revoke selected keys", permissions=["revoke"])
    def revoke(self, request, queryset):
        for api_key in queryset:
            services.apikey_revoke(tenant=api_key.tenant, prefix_or_id=api_key.prefix)
        self.message_user(request, f"Revoked {queryset.count()} keys.")

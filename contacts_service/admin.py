"""Operators' admin for tenants, users, memberships and API keys (staff only)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils import timezone

from contacts_service import services
from contacts_service.admin_search import BoundedSearchMixin
from contacts_service.models import API_KEY_PREFIX, ApiKey, Membership, Tenant, User


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class TenantForm(forms.ModelForm):
    """A tenant whose plan is no longer in RATE_LIMIT_PLANS (it has standard's limits meanwhile,
    throttling.plan_limits) keeps it when saved: it is offered as its current choice, where the
    choices alone made the form unsaveable until another plan was picked. Other tenants cannot be
    given it."""

    class Meta:
        model = Tenant
        fields = ["name", "plan", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        current = self.instance.plan if not self.instance._state.adding else None
        field = self.fields["plan"]
        if current and current not in dict(field.choices):
            field.choices = [
                *field.choices,
                (current, f"{current} (not in RATE_LIMIT_PLANS: standard limits)"),
            ]

    def _post_clean(self):
        super()._post_clean()
        # The model's own check of the choices: the plan the tenant already has is not a new choice.
        kept = not self.instance._state.adding and self["plan"].data == self.initial.get("plan")
        if "plan" in self._errors and kept:
            del self._errors["plan"]


@admin.register(Tenant)
class TenantAdmin(BoundedSearchMixin, admin.ModelAdmin):
    form = TenantForm
    list_display = ["name", "id", "plan", "is_active", "created_at"]
    list_filter = ["plan", "is_active"]
    search_fields = ["name", "id"]
    inlines = [MembershipInline]


@admin.register(User)
class UserAdmin(BoundedSearchMixin, DjangoUserAdmin):
    list_display = ["username", "email", "auth_subject", "is_staff", "is_active"]
    search_fields = ["username", "email", "auth_subject"]
    fieldsets = (*DjangoUserAdmin.fieldsets, ("Auth service", {"fields": ["auth_subject"]}))


@admin.register(Membership)
class MembershipAdmin(BoundedSearchMixin, admin.ModelAdmin):
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    autocomplete_fields = ["user", "tenant"]


class ApiKeyForm(forms.ModelForm):
    """What apikey_create refuses, as form errors (it raised in save_model: a 500)."""

    class Meta:
        model = ApiKey
        fields = ["tenant", "name", "role", "expires_at"]

    def clean_name(self):
        name = self.cleaned_data.get("name") or ""
        if not name.strip():
            raise forms.ValidationError("A key needs a name.")
        return name

    def clean_expires_at(self):
        expires_at = self.cleaned_data.get("expires_at")
        if self.instance._state.adding and expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("Must be in the future.")
        return expires_at


@admin.register(ApiKey)
class ApiKeyAdmin(BoundedSearchMixin, admin.ModelAdmin):
    form = ApiKeyForm
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

    def get_search_results(self, request, queryset, search_term):
        # The list shows a key as csk_<prefix>, and a whole key is csk_<prefix>_<secret>: either, pasted,
        # is searched as the stored prefix (it found nothing).
        shown = f"{API_KEY_PREFIX}_"
        words = [word.removeprefix(shown).split("_")[0] if word.startswith(shown) else word
                 for word in search_term.split()]  # fmt: skip
        return super().get_search_results(request, queryset, " ".join(words))

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

"""Operators' view of contacts across tenants (staff only; filter by tenant).

Contact fields are read-only here: every change must go through the services so history and
events are written; operators soft-delete and restore with the actions.
"""

import uuid

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from import_export.admin import ExportActionMixin, ImportMixin

from contacts import gdpr, services
from contacts.models import (
    AttributeDefinition,
    ChangeSource,
    Contact,
    ContactChangeEntry,
    ContactIdentifier,
    DuplicateCandidate,
    Merge,
)
from contacts_service.admin_delete import ServiceDeleteMixin
from contacts_service.admin_search import BoundedSearchMixin
from contacts_service.context import Actor, tenant_context
from contacts_service.errors import ServiceError
from imports.resources import (
    ContactConfirmImportForm,
    ContactCSV,
    ContactExportForm,
    ContactImportForm,
    ContactResource,
    result_problems,
)


class TenantAdminMixin(BoundedSearchMixin):
    """The admin is cross-tenant by design, so it uses the loud unscoped() escape hatch. A change page
    runs inside the object's tenant (inlines and the model's unique constraints, validated on "Save",
    query through tenant-scoped managers)."""

    def save_model(self, request, obj, form, change):
        # Read-only pages (every field of contacts, tags, lists...) change nothing: "Save" must not
        # write back the copy read at the start of the request over a change made meanwhile.
        if form.changed_data or not change:
            super().save_model(request, obj, form, change)

    def get_queryset(self, request):
        return self.model.objects.unscoped().select_related("tenant")

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # Inline formsets query related models through their default (tenant-scoped) manager:
        # run the page inside the object's own tenant.
        try:
            obj = (
                self.model.objects.unscoped().filter(pk=object_id).select_related("tenant").first()
                if object_id
                else None
            )
        except (ValidationError, ValueError):  # not an id of this model: "doesn't exist", as Django says
            obj = None
        if obj is None:
            return super().changeform_view(request, object_id, form_url, extra_context)
        with tenant_context(obj.tenant):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            if hasattr(response, "render"):
                response.render()  # templates render lazily; do it while the tenant is in scope
            return response


class IdentifierInline(admin.TabularInline):
    model = ContactIdentifier
    extra = 0
    can_delete = False
    fields = ["channel", "value", "verified", "created_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return ContactIdentifier.objects.unscoped()

    def has_add_permission(self, request, obj=None):
        return False


class ChangeInline(admin.TabularInline):
    """The contact's history, one line per changed field (the view over its history rows)."""

    model = ContactChangeEntry
    extra = 0
    can_delete = False
    fields = ["changed_at", "field", "old_value", "new_value", "actor", "source", "correlation_id"]
    readonly_fields = fields
    ordering = ["-changed_at", "-change_id", "-position"]
    verbose_name, verbose_name_plural = "contact change", "contact changes"

    def get_queryset(self, request):
        return ContactChangeEntry.objects.unscoped()

    def has_view_permission(self, request, obj=None):
        # Who may see the history rows (the stored table's permission, as before the view) sees it.
        return request.user.has_perm("contacts.view_contactchange") or request.user.has_perm(
            "contacts.change_contactchange"
        )

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request, obj=None):
        return False


def admin_actor(request) -> Actor:
    return Actor(type="user", id=str(request.user.pk), label=request.user.get_username())


@admin.register(Contact)
class ContactAdmin(TenantAdminMixin, ImportMixin, ExportActionMixin, admin.ModelAdmin):
    list_display = [
        "display_name",
        "email",
        "phone",
        "company",
        "status",
        "tenant",
        "created_at",
        "deleted_at",
    ]
    list_filter = ["tenant", "status", "country", ("deleted_at", admin.EmptyFieldListFilter)]
    search_fields = ["email", "first_name", "last_name", "company", "phone", "external_id", "=id"]
    readonly_fields = [f.name for f in Contact._meta.fields]
    inlines = [IdentifierInline, ChangeInline]
    actions = ["soft_delete", "restore", "erase_permanently"]
    list_select_related = ["tenant"]
    show_full_result_count = False
    # Import and export of one tenant's contacts (imports.resources): Import and Export buttons on the
    # list, and an "Export selected contacts" action.
    resource_classes = [ContactResource]
    formats = [ContactCSV]
    import_form_class = ContactImportForm
    confirm_form_class = ContactConfirmImportForm
    export_form_class = ContactExportForm
    import_export_change_list_template = "admin/import_export/change_list_import_export.html"
    change_form_template = None  # the contact page stays Django's own, without an export button
    show_change_form_export = False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def _resource_kwargs(self, request, form) -> dict:
        cleaned = getattr(form, "cleaned_data", None) or {}
        return {"tenant": cleaned.get("tenant"), "actor": admin_actor(request)}

    def get_import_resource_kwargs(self, request, **kwargs):
        return self._resource_kwargs(request, kwargs.get("form"))

    def get_export_resource_kwargs(self, request, **kwargs):
        return self._resource_kwargs(request, kwargs.get("export_form"))

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["tenant"] = import_form.cleaned_data["tenant"].pk
        return initial

    def get_import_data_kwargs(self, **kwargs):
        # The confirmed import is all or nothing: a row refused then (its contact changed since the
        # preview) rolls every row back.
        return {**super().get_import_data_kwargs(**kwargs), "rollback_on_validation_errors": True}

    def import_action(self, request, **kwargs):
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None) or {}
        upload = (getattr(context.get("form"), "cleaned_data", None) or {}).get("import_file")
        name = getattr(upload, "tmp_storage_name", None)
        if name and not context.get("confirm_form"):
            # A preview that cannot be confirmed: its copy of the file (personal data) goes now.
            self.get_tmp_storage_class()(name=name, **self.get_tmp_storage_class_kwargs()).remove()
        return response

    def process_import(self, request, **kwargs):
        try:
            return super().process_import(request, **kwargs)
        except FileNotFoundError:  # confirmed twice: the first confirmation removed the file
            self.message_user(request, "This file is no longer waiting to be imported.", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:contacts_contact_import"))

    def process_result(self, result, request):
        if result.has_errors() or result.has_validation_errors():
            problems = "; ".join(result_problems(result))
            self.message_user(request, f"Nothing was imported: {problems}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:contacts_contact_import"))
        return super().process_result(result, request)

    def export_action(self, request, *args, **kwargs):
        # The Export button carries the list's query string; one the list refuses (a bad filter value)
        # gets the list's own answer, not a 500 from the export's copy of the list.
        try:
            return super().export_action(request, *args, **kwargs)
        except IncorrectLookupParameters:
            return HttpResponseRedirect(reverse("admin:contacts_contact_changelist") + "?e=1")

    def get_valid_export_item_pks(self, request):
        # The base method lists every contact; the posted ids are enough, as the export queryset and
        # the resource keep only the chosen tenant's live contacts among them.
        valid = []
        for value in request.POST.getlist("export_items"):
            try:
                valid.append(str(uuid.UUID(value)))
            except ValueError:
                continue
        return valid

    def _each(self, request, queryset, service, verb: str) -> None:
        done = 0
        for contact in queryset:
            with tenant_context(contact.tenant):
                try:
                    service(
                        tenant=contact.tenant,
                        actor=admin_actor(request),
                        contact_id=contact.pk,
                        source=ChangeSource.ADMIN,
                    )
                    done += 1
                except ServiceError as exc:
                    self.message_user(request, f"{contact}: {exc.message}", messages.ERROR)
        self.message_user(request, f"{verb} {done} contacts.")

    def has_soft_delete_permission(self, request) -> bool:
        # The model's delete permission: the admin never deletes a row (has_delete_permission), it
        # soft-deletes and restores through the services; an operator who may only look may neither.
        return request.user.has_perm("contacts.delete_contact")

    @admin.action(description="Soft-delete selected contacts", permissions=["soft_delete"])
    def soft_delete(self, request, queryset):
        self._each(request, queryset.filter(deleted_at__isnull=True), services.contact_delete, "Deleted")

    @admin.action(description="Restore selected contacts", permissions=["soft_delete"])
    def restore(self, request, queryset):
        self._each(request, queryset.filter(deleted_at__isnull=False), services.contact_restore, "Restored")

    def has_erase_permission(self, request) -> bool:
        return request.user.has_perm("contacts.erase_contact")

    @admin.action(description="Erase permanently (GDPR)", permissions=["erase"])
    def erase_permanently(self, request, queryset):
        """Confirmation page first; then contacts.gdpr.contact_erase per contact (live or soft-deleted)."""
        if request.POST.get("post") != "yes":
            context = {
                **self.admin_site.each_context(request),
                "title": "Erase permanently (GDPR)",
                "opts": self.model._meta,
                "queryset": list(queryset),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "media": self.media,
            }
            return TemplateResponse(request, "admin/contacts/contact/erase_confirmation.html", context)
        erased = []
        for contact in queryset:
            with tenant_context(contact.tenant):
                try:
                    gdpr.contact_erase(
                        tenant=contact.tenant,
                        actor=admin_actor(request),
                        contact_id=contact.pk,
                        source=ChangeSource.ADMIN,
                    )
                    erased.append(str(contact.pk))
                except ServiceError as exc:
                    self.message_user(request, f"{contact.pk}: {exc.message}", messages.ERROR)
        # Ids only: the message is kept in a cookie or the session until shown.
        self.message_user(request, f"Erased {len(erased)} contacts permanently: {', '.join(erased)}.")
        return None


@admin.register(AttributeDefinition)
class AttributeDefinitionAdmin(ServiceDeleteMixin, TenantAdminMixin, admin.ModelAdmin):
    """Read-only. A definition whose key contacts still hold a value for cannot be deleted (they would
    keep values no definition types), as through the API: its delete page and a delete action
    selecting it are refused."""

    list_display = ["key", "label", "type", "required", "tenant"]
    list_filter = ["tenant", "type"]
    readonly_fields = [f.name for f in AttributeDefinition._meta.fields]

    def has_add_permission(self, request):
        return False

    @staticmethod
    def _in_use(definition: AttributeDefinition) -> bool:
        # Asked several times a page (a scan of the tenant's contacts each): once per instance.
        if not hasattr(definition, "_in_use"):
            holders = Contact.objects.unscoped().filter(tenant_id=definition.tenant_id)
            definition._in_use = holders.filter(attributes__has_key=definition.key).exists()
        return definition._in_use

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and self._in_use(obj))

    def delete_one(self, request, definition) -> None:
        """Through the API's service, which locks the definition before it counts the holders and
        looks for segments naming it."""
        from contacts.services.attributes import attribute_definition_delete

        attribute_definition_delete(tenant=definition.tenant, definition_id=definition.pk)


class ReadOnlyAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Operators look; merges and undos go through the API (the services write events and history)."""

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Merge)
class MergeAdmin(ReadOnlyAdmin):
    list_display = ["id", "primary_id", "strategy", "status", "tenant", "created_at", "undone_at"]
    list_filter = ["tenant", "status", "strategy"]
    search_fields = ["=id", "=primary__id"]
    show_full_result_count = False


@admin.register(DuplicateCandidate)
class DuplicateCandidateAdmin(ReadOnlyAdmin):
    list_display = [
        "contact_a_id",
        "contact_b_id",
        "score",
        "reasons",
        "tenant",
        "detected_at",
        "dismissed_at",
    ]
    list_filter = ["tenant", ("dismissed_at", admin.EmptyFieldListFilter)]
    show_full_result_count = False

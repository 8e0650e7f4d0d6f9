from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.http import Http404
from guardian.admin import GuardedModelAdmin

from contacts.admin import TenantAdminMixin, admin_actor
from contacts.models import ChangeSource
from contacts_service.admin_delete import ServiceDeleteMixin
from contacts_service.context import tenant_context
from lists.models import ContactList, ListKind


@admin.register(ContactList)
class ContactListAdmin(ServiceDeleteMixin, TenantAdminMixin, GuardedModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def delete_order(self, contact_lists):
        # Dynamic lists first: a static list selected with the segment naming it goes too.
        return sorted(contact_lists, key=lambda c: c.kind != ListKind.DYNAMIC)

    def delete_one(self, request, contact_list) -> None:
        """Through the API's service: members leave with their events; a list a segment's rules name
        is kept (as the API's 409 in_use), with a message naming it."""
        from lists.services import list_delete

        with tenant_context(contact_list.tenant):
            list_delete(
                tenant=contact_list.tenant,
                actor=admin_actor(request),
                list_id=contact_list.pk,
                source=ChangeSource.ADMIN,
            )

    # django-guardian's sharing pages look the list, user or group up with the raw URL value: one that
    # is not an id of its model was a 500 (ValidationError), where it is a 404.
    def obj_perms_manage_view(self, request, object_pk):
        _id_or_404(ContactList, object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        _id_or_404(ContactList, object_pk)
        _id_or_404(get_user_model(), user_id)
        return super().obj_perms_manage_user_view(request, object_pk, user_id)

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        _id_or_404(ContactList, object_pk)
        _id_or_404(Group, group_id)
        return super().obj_perms_manage_group_view(request, object_pk, group_id)


def _id_or_404(model, value) -> None:
    try:
        model._meta.pk.to_python(value)
    except (ValidationError, ValueError, TypeError) as exc:
        raise Http404(f"No {model._meta.verbose_name} with this id.") from exc

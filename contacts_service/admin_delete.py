"""Deletes in the Django admin that go through the API's services (events, history, the 409s)."""

from __future__ import annotations

from django.contrib import messages

from contacts_service.errors import Conflict, NotFound


class ServiceDeleteMixin:
    """The delete page and the delete action call `delete_one(request, obj)` (the API's service) for
    each row, in `delete_order`. A row the service keeps (Conflict: in use) is kept with a warning
    giving the service's reason; one deleted meanwhile (NotFound) is passed over; and Django's
    "deleted successfully", which counts what it was asked to delete, counts what went (a kept row
    was said to be deleted beside the warning saying it was kept)."""

    def delete_one(self, request, obj) -> None:
        raise NotImplementedError

    def delete_order(self, objs: list) -> list:
        return objs

    def delete_model(self, request, obj):
        self._service_delete(request, [obj])

    def delete_queryset(self, request, queryset):
        self._service_delete(request, list(queryset.select_related("tenant")))

    def _service_delete(self, request, objs: list) -> None:
        deleted = 0
        for obj in self.delete_order(objs):
            try:
                self.delete_one(request, obj)
                deleted += 1
            except Conflict as exc:
                self.message_user(
                    request, f"Kept {obj} ({obj.tenant}): {exc.message}", level=messages.WARNING
                )
            except NotFound:  # deleted meanwhile
                continue
        request._service_deleted = deleted  # what message_user says next, instead of Django's own

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs):
        deleted = getattr(request, "_service_deleted", None)
        if deleted is not None and level == messages.SUCCESS:
            del request._service_deleted
            if not deleted:
                return
            opts = self.model._meta
            name = opts.verbose_name if deleted == 1 else opts.verbose_name_plural
            message = f"Successfully deleted {deleted} {name}."
        super().message_user(request, message, level, *args, **kwargs)

"""Lists API: CRUD, static membership, set operations, sharing."""

import uuid
from collections.abc import Mapping

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from contacts.selectors import contact_rows
from contacts.serializers import ContactSelectionSerializer, contacts_render
from contacts_service.errors import NotFound
from contacts_service.pagination import paging_parameters
from contacts_service.roles import Perm
from contacts_service.serializers import ErrorSerializer
from contacts_service.viewsets import TenantViewSet
from lists import selectors, services
from lists.models import ContactList
from lists.serializers import (
    ContactListInputSerializer,
    ContactListSerializer,
    ContactListUpdateSerializer,
    ListCombineInputSerializer,
    ListCopyInputSerializer,
    ListMemberSerializer,
    ListMergeInputSerializer,
    ListShareInputSerializer,
    ListShareSerializer,
    SegmentPreviewInputSerializer,
    SegmentPreviewSerializer,
)
from tags.serializers import BulkResultSerializer

_IN_USE = OpenApiResponse(
    ErrorSerializer,
    description="Code `in_use`: the rules of dynamic lists (`segments`: `[{id, name}]`) name a list to "
    "delete; change their rules first. Merging into a dynamic list: code `dynamic`.",
)


@extend_schema_view(
    list=extend_schema(summary="Lists with their member counts"),
    retrieve=extend_schema(summary="Get a list"),
    create=extend_schema(
        summary="Create a list", request=ContactListInputSerializer, responses={201: ContactListSerializer}
    ),
    partial_update=extend_schema(
        summary="Rename, describe, archive a list", request=ContactListUpdateSerializer
    ),
    destroy=extend_schema(
        summary="Delete a list (members leave it, with events)",
        responses={204: None, 409: _IN_USE},
    ),
)
class ContactListViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    empty_patch_refused = True  # PATCH {} is a 400: the schema says minProperties 1
    queryset = ContactList.objects.none()
    serializer_class = ContactListSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_map = {
        "list": Perm.CONTACTS_VIEW,
        "retrieve": Perm.CONTACTS_VIEW,
        "contacts:get": Perm.CONTACTS_VIEW,
        "contacts:post": Perm.LISTS_MANAGE,
        "remove_contacts": Perm.LISTS_MANAGE,
        "preview": Perm.CONTACTS_VIEW,
        "copy": Perm.LISTS_MANAGE,
        "merge": Perm.LISTS_MANAGE,
        "combine": Perm.LISTS_MANAGE,
        "create": Perm.LISTS_MANAGE,
        "partial_update": Perm.LISTS_MANAGE,
        "destroy": Perm.LISTS_MANAGE,
        "shares": Perm.LISTS_MANAGE,
        "unshare": Perm.LISTS_MANAGE,
    }
    # Charged to the plan's `expensive` rate limit too (contacts_service.throttling).
    expensive_actions = frozenset({"contacts:post", "remove_contacts", "copy", "merge", "combine", "preview"})
    # A member the list is shared with (object permission) may change it as if holding lists.manage.
    object_grants = {
        "contacts:post": services.MANAGE_LIST,
        "remove_contacts": services.MANAGE_LIST,
        "partial_update": services.MANAGE_LIST,
        "merge": services.MANAGE_LIST,
    }

    def check_permissions(self, request: Request) -> None:
        super().check_permissions(request)
        # A share grants this list only: deleting the merged lists needs the role's lists.manage.
        # Refused here, with the role's other permissions, before the rate limits charge the request.
        if (
            self.action == "merge"
            and Perm.LISTS_MANAGE not in request.tenant_access.permissions
            and isinstance(request.data, Mapping)
            and request.data.get("delete_merged") is True  # the strict serializer takes JSON true only
        ):
            raise PermissionDenied(f"Deleting the merged lists needs the permission {Perm.LISTS_MANAGE}.")

    def get_tenant_queryset(self, tenant):
        if self.action in ("contacts", "remove_contacts"):  # the members, not the list's own counts
            return ContactList.objects.for_tenant(tenant)
        return selectors.list_list(tenant=tenant)

    def _render(self, list_id, code=status.HTTP_200_OK) -> Response:
        return Response(
            ContactListSerializer(selectors.list_list(tenant=self.tenant).get(pk=list_id)).data, status=code
        )

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = ContactListInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        contact_list = services.list_create(tenant=self.tenant, actor=self.actor, **payload.validated_data)
        return self._render(contact_list.pk, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        contact_list = self.get_object()
        payload = ContactListInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        services.list_update(
            tenant=self.tenant, actor=self.actor, list_id=contact_list.pk, changes=payload.validated_data
        )
        return self._render(contact_list.pk)

    def perform_destroy(self, instance: ContactList) -> None:
        services.list_delete(tenant=self.tenant, actor=self.actor, list_id=instance.pk)

    def _change(self, request: Request, remove: bool) -> Response:
        contact_list = self.get_object()
        payload = ContactSelectionSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        selection = payload.selection(tenant=self.tenant)
        changed = services.list_members_change(
            tenant=self.tenant, actor=self.actor, list_id=contact_list.pk, selection=selection, remove=remove
        )
        return Response({"changed": changed})

    @extend_schema(
        methods=["GET"], summary="Members of a list, newest first", responses=ListMemberSerializer(many=True)
    )
    @extend_schema(
        methods=["POST"],
        summary="Add up to 10,000 contacts by id, or every contact matching a filter, to a static list",
        request=ContactSelectionSerializer,
        responses=BulkResultSerializer,
    )
    @action(detail=True, methods=["get", "post"])
    def contacts(self, request: Request, pk: str) -> Response:
        if request.method == "POST":
            return self._change(request, remove=False)
        contact_list = self.get_object()
        members = selectors.list_members(tenant=self.tenant, list_id=contact_list.pk)
        rows = self.paginate_queryset(contact_rows(members, "added_at"))
        return self.get_paginated_response(
            contacts_render(tenant=self.tenant, rows=rows, extra=("added_at",))
        )

    @extend_schema(
        summary="Count and first page of the contacts matching segment rules, without saving",
        request=SegmentPreviewInputSerializer,
        responses=SegmentPreviewSerializer,
        parameters=paging_parameters(),
    )
    @action(detail=False, methods=["post"])
    def preview(self, request: Request) -> Response:
        payload = SegmentPreviewInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        matching = selectors.segment_preview(tenant=self.tenant, rules=payload.validated_data["rules"])
        rows = self.paginate_queryset(contact_rows(matching))
        return self.get_paginated_response(contacts_render(tenant=self.tenant, rows=rows))

    @extend_schema(
        summary="Remove contacts by id or by filter from a static list",
        request=ContactSelectionSerializer,
        responses=BulkResultSerializer,
    )
    @action(detail=True, methods=["post"], url_path="contacts/remove")
    def remove_contacts(self, request: Request, pk: str) -> Response:
        return self._change(request, remove=True)

    @extend_schema(
        summary="Copy a list under a new name (static copy = current members; dynamic copy = same rules)",
        request=ListCopyInputSerializer,
        responses={201: ContactListSerializer},
    )
    @action(detail=True, methods=["post"])
    def copy(self, request: Request, pk: str) -> Response:
        original = self.get_object()
        payload = ListCopyInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        copy, _ = services.list_copy(
            tenant=self.tenant, actor=self.actor, list_id=original.pk, **payload.validated_data
        )
        return self._render(copy.pk, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Merge other lists into this static list (optionally deleting them)",
        request=ListMergeInputSerializer,
        responses={200: BulkResultSerializer, 409: _IN_USE},
    )
    @action(detail=True, methods=["post"])
    def merge(self, request: Request, pk: str) -> Response:
        target = self.get_object()
        payload = ListMergeInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changed = services.list_merge(
            tenant=self.tenant, actor=self.actor, list_id=target.pk, **payload.validated_data
        )
        return Response({"changed": changed})

    @extend_schema(
        summary="New static list from the union, intersection, difference or 'in at least N' of lists",
        request=ListCombineInputSerializer,
        responses={201: ContactListSerializer},
    )
    @action(detail=False, methods=["post"])
    def combine(self, request: Request) -> Response:
        payload = ListCombineInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        new_list, _ = services.list_combine(tenant=self.tenant, actor=self.actor, **payload.validated_data)
        return self._render(new_list.pk, status.HTTP_201_CREATED)

    @extend_schema(
        methods=["GET"],
        summary="Members of the tenant this list is shared with",
        responses=ListShareSerializer(many=True),
    )
    @extend_schema(
        methods=["POST"],
        summary="Share this list with one member: they may manage it whatever their role",
        request=ListShareInputSerializer,
        responses={201: ListShareSerializer},
    )
    @action(detail=True, methods=["get", "post"], pagination_class=None)
    def shares(self, request: Request, pk: str) -> Response:
        contact_list = self.get_object()
        if request.method == "POST":
            payload = ListShareInputSerializer(data=request.data)
            payload.is_valid(raise_exception=True)
            membership = services.list_share(
                tenant=self.tenant, actor=self.actor, list_id=contact_list.pk, **payload.validated_data
            )
            return Response(ListShareSerializer(membership).data, status=status.HTTP_201_CREATED)
        shares = selectors.list_shares(tenant=self.tenant, list_id=contact_list.pk)
        return Response(ListShareSerializer(shares, many=True).data)

    @extend_schema(summary="Stop sharing this list with a member", responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"shares/(?P<user_id>[0-9a-fA-F-]{32,36})")
    def unshare(self, request: Request, pk: str, user_id: str) -> Response:
        contact_list = self.get_object()
        try:
            user_uuid = uuid.UUID(user_id)
        except ValueError as exc:
            raise NotFound("This list is not shared with that user.") from exc
        services.list_unshare(
            tenant=self.tenant, actor=self.actor, list_id=contact_list.pk, user_id=user_uuid
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

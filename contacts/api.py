"""Thin views of the contacts API: validate, call one service or selector, render."""

from __future__ import annotations

import uuid

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import gdpr, selectors, services
from contacts.filters import ContactFilter
from contacts.models import AttributeDefinition, Contact, ContactIdentifier
from contacts.normalization import FieldError
from contacts.serializers import (
    CONTACT_ROW_FIELDS,
    AttributeDefinitionInputSerializer,
    AttributeDefinitionSerializer,
    AttributeDefinitionUpdateSerializer,
    ContactChangeSerializer,
    ContactExportSerializer,
    ContactInputSerializer,
    ContactPatchSchemaSerializer,
    ContactSerializer,
    ErasureReceiptSerializer,
    IdentifierInputSerializer,
    IdentifierSerializer,
    IdentifierUpdateSerializer,
    ResolveQuerySerializer,
    contacts_render,
)
from contacts.services.merges import contact_live_or_404, contact_not_found
from contacts_service.errors import ValidationFailed
from contacts_service.roles import Perm
from contacts_service.schema import empty_skipped
from contacts_service.serializers import ErrorSerializer
from contacts_service.viewsets import TenantViewSet, parse_id
from events.filters import TimelineFilter
from events.selectors import timeline_for_contact
from events.serializers import TimelineEntrySerializer
from tags import services as tag_services
from tags.serializers import ContactTagsInputSerializer


@extend_schema_view(
    list=extend_schema(summary="List contacts", responses=ContactSerializer(many=True)),
    retrieve=extend_schema(summary="Get a contact", responses=ContactSerializer),
    create=extend_schema(
        summary="Create a contact",
        request=ContactInputSerializer,
        responses={
            201: ContactSerializer,
            409: OpenApiResponse(
                ErrorSerializer,
                description="Code `erased`: the email or phone (errors[].field) belongs to a contact erased "
                'under GDPR; send "allow_erased": true to create it anyway.',
            ),
        },
    ),
    partial_update=extend_schema(
        summary="Change fields of a contact",
        request=ContactPatchSchemaSerializer,
        responses=ContactSerializer,
    ),
    destroy=extend_schema(summary="Soft-delete a contact (restore brings it back)", responses={204: None}),
)
class ContactViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    empty_patch_refused = True  # PATCH {} is a 400: the schema says minProperties 1
    queryset = Contact.objects.unscoped().none()
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    bodyless_actions = frozenset({"restore", "gdpr_erase"})
    permission_map = {
        "list": Perm.CONTACTS_VIEW,
        "retrieve": Perm.CONTACTS_VIEW,
        "history": Perm.CONTACTS_VIEW,
        "timeline": Perm.CONTACTS_VIEW,
        "resolve": Perm.CONTACTS_VIEW,
        "create": Perm.CONTACTS_CREATE,
        "partial_update": Perm.CONTACTS_UPDATE,
        "destroy": Perm.CONTACTS_DELETE,
        "restore": Perm.CONTACTS_DELETE,
        "add_tags": Perm.TAGS_MANAGE,
        "remove_tag": Perm.TAGS_MANAGE,
        "gdpr_export": Perm.CONTACTS_EXPORT,
        "gdpr_erase": Perm.CONTACTS_ERASE,
    }

    def get_tenant_queryset(self, tenant):
        # Every action renders contacts with contacts_render (their identifiers and tags in one query):
        # nothing to prefetch.
        return selectors.contact_live(tenant=tenant)

    def _render(self, contact: Contact) -> dict:
        """A contact instance as the list renders it (the same body as ContactSerializer)."""
        row = {name: getattr(contact, name) for name in CONTACT_ROW_FIELDS}
        return contacts_render(tenant=self.tenant, rows=[row])[0]

    def retrieve(self, request: Request, pk: str) -> Response:
        contact_id = parse_id(pk)
        rows = list(selectors.contact_rows(self.get_queryset().filter(pk=contact_id))[:1])
        if not rows:
            contact_not_found(self.tenant, contact_id)
        return Response(contacts_render(tenant=self.tenant, rows=rows)[0])

    def get_object(self) -> Contact:
        try:
            return super().get_object()
        except Http404:
            contact_not_found(self.tenant, parse_id(self.kwargs["pk"]))

    def list(self, request: Request, *args, **kwargs) -> Response:
        rows = self.paginate_queryset(selectors.contact_rows(self.filter_queryset(self.get_queryset())))
        return self.get_paginated_response(contacts_render(tenant=self.tenant, rows=rows))

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = ContactInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        allow_erased = data.pop("allow_erased", False)
        contact = services.contact_create(
            tenant=self.tenant, actor=self.actor, data=data, allow_erased=allow_erased
        )
        return Response(self._render(contact), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        contact = self.get_object()
        payload = ContactInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        contact = services.contact_update(
            tenant=self.tenant, actor=self.actor, contact_id=contact.pk, data=payload.validated_data
        )
        return Response(self._render(contact))

    def perform_destroy(self, instance: Contact) -> None:
        services.contact_delete(tenant=self.tenant, actor=self.actor, contact_id=instance.pk)

    @extend_schema(
        summary="Tag a contact by tag names (unknown names are created)",
        request=ContactTagsInputSerializer,
        responses=ContactSerializer,
    )
    @action(detail=True, methods=["post"], url_path="tags", filterset_class=None)
    def add_tags(self, request: Request, pk: str) -> Response:
        contact = self.get_object()
        payload = ContactTagsInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        tag_services.contact_tag(
            tenant=self.tenant, actor=self.actor, contact_id=contact.pk, names=payload.validated_data["tags"]
        )
        rows = list(selectors.contact_rows(self.get_queryset().filter(pk=contact.pk)))
        return Response(contacts_render(tenant=self.tenant, rows=rows)[0])

    @extend_schema(summary="Untag a contact", request=None, responses={204: None})
    @action(detail=True, methods=["delete"], url_path=r"tags/(?P<tag_id>[^/]+)", filterset_class=None)
    def remove_tag(self, request: Request, pk: str, tag_id: str) -> Response:
        contact = self.get_object()
        tag_services.contact_untag(
            tenant=self.tenant, actor=self.actor, contact_id=contact.pk, tag_id=parse_id(tag_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="Restore a soft-deleted contact", request=None, responses=ContactSerializer)
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, pk: str) -> Response:
        contact_id = parse_id(pk)
        contact = services.contact_restore(tenant=self.tenant, actor=self.actor, contact_id=contact_id)
        return Response(self._render(contact))

    @extend_schema(
        summary="Everything held about a contact, also soft-deleted (GDPR export)",
        responses=ContactExportSerializer,
    )
    @action(
        detail=True, methods=["get"], url_path="export", url_name="gdpr-export",
        filterset_class=None, pagination_class=None,
    )  # fmt: skip
    def gdpr_export(self, request: Request, pk: str) -> Response:
        return Response(gdpr.contact_export(tenant=self.tenant, contact_id=parse_id(pk)))

    @extend_schema(
        summary="Erase a contact and all its personal data for good (GDPR), also soft-deleted",
        description="Deletes the contact, its history and timeline; keeps salted hashes of its email and "
        'phone as a tombstone; emits contact.deleted with reason "erased". A second erase is a 404.',
        request=None,
        responses=ErasureReceiptSerializer,
    )
    @action(detail=True, methods=["post"], url_path="erase", url_name="gdpr-erase", filterset_class=None)
    def gdpr_erase(self, request: Request, pk: str) -> Response:
        receipt = gdpr.contact_erase(tenant=self.tenant, actor=self.actor, contact_id=parse_id(pk))
        return Response(ErasureReceiptSerializer(receipt).data)

    @extend_schema(
        summary="Change history of a contact, newest first", responses=ContactChangeSerializer(many=True)
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def history(self, request: Request, pk: str) -> Response:
        contact = self.get_object()
        page = self.paginate_queryset(selectors.contact_history(tenant=self.tenant, contact_id=contact.pk))
        return self.get_paginated_response(ContactChangeSerializer(page, many=True).data)

    @extend_schema(
        summary="Timeline of a contact, newest first",
        parameters=[
            empty_skipped(
                OpenApiParameter(
                    "type", str, description="Comma-separated event types; a trailing * is a prefix."
                )
            ),
            empty_skipped(
                OpenApiParameter("activity_type", str, description="Comma-separated activity types.")
            ),
            empty_skipped(OpenApiParameter("occurred_after", OpenApiTypes.DATETIME)),
            empty_skipped(OpenApiParameter("occurred_before", OpenApiTypes.DATETIME)),
        ],
        responses=TimelineEntrySerializer(many=True),
    )
    @action(detail=True, methods=["get"], filterset_class=None)
    def timeline(self, request: Request, pk: str) -> Response:
        contact = self.get_object()
        entries = TimelineFilter(
            request.query_params, queryset=timeline_for_contact(tenant=self.tenant, contact_id=contact.pk)
        )
        if not entries.is_valid():
            raise ValidationError(entries.errors)
        page = self.paginate_queryset(entries.qs)
        return self.get_paginated_response(TimelineEntrySerializer(page, many=True).data)

    @extend_schema(
        summary="Find the contact reachable at an address",
        parameters=[ResolveQuerySerializer],
        responses=ContactSerializer,
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def resolve(self, request: Request) -> Response:
        query = ResolveQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            contact = selectors.contact_resolve(tenant=self.tenant, **query.validated_data)
        except FieldError as exc:
            raise ValidationFailed([{**exc.as_dict(), "field": "identifier"}]) from exc
        if contact is None:
            raise NotFound("No contact has this identifier.")
        return Response(self._render(contact))


CONTACT_ID_PARAM = OpenApiParameter("contact_pk", OpenApiTypes.UUID, OpenApiParameter.PATH)


@extend_schema_view(
    list=extend_schema(summary="Identifiers of a contact", parameters=[CONTACT_ID_PARAM]),
    create=extend_schema(
        summary="Add an identifier",
        parameters=[CONTACT_ID_PARAM],
        request=IdentifierInputSerializer,
        responses={201: IdentifierSerializer},
    ),
    partial_update=extend_schema(
        summary="Mark an identifier verified or not",
        parameters=[CONTACT_ID_PARAM],
        request=IdentifierUpdateSerializer,
        responses=IdentifierSerializer,
    ),
    destroy=extend_schema(
        summary="Remove an identifier", parameters=[CONTACT_ID_PARAM], responses={204: None}
    ),
)
class ContactIdentifierViewSet(mixins.ListModelMixin, TenantViewSet):
    queryset = ContactIdentifier.objects.unscoped().none()
    serializer_class = IdentifierSerializer
    pagination_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_map = {
        "list": Perm.CONTACTS_VIEW,
        "create": Perm.CONTACTS_UPDATE,
        "partial_update": Perm.CONTACTS_UPDATE,
        "destroy": Perm.CONTACTS_UPDATE,
    }

    def contact_id(self) -> uuid.UUID:
        contact_id = parse_id(self.kwargs["contact_pk"])
        contact_live_or_404(self.tenant, contact_id)
        return contact_id

    def get_tenant_queryset(self, tenant):
        return selectors.contact_identifiers(tenant=tenant, contact_id=self.contact_id())

    def create(self, request: Request, contact_pk: str) -> Response:
        contact_id = self.contact_id()  # before the body: a merged contact's 404 says where it went
        payload = IdentifierInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        identifier = services.identifier_add(
            tenant=self.tenant, actor=self.actor, contact_id=contact_id, **payload.validated_data
        )
        return Response(IdentifierSerializer(identifier).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, contact_pk: str, pk: str) -> Response:
        contact_id = self.contact_id()
        payload = IdentifierUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        identifier = services.identifier_update(
            tenant=self.tenant,
            actor=self.actor,
            contact_id=contact_id,
            identifier_id=parse_id(pk),
            **payload.validated_data,
        )
        return Response(IdentifierSerializer(identifier).data)

    def destroy(self, request: Request, contact_pk: str, pk: str) -> Response:
        services.identifier_remove(
            tenant=self.tenant, actor=self.actor, contact_id=self.contact_id(), identifier_id=parse_id(pk)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=extend_schema(summary="Custom attribute definitions"),
    retrieve=extend_schema(summary="Get an attribute definition"),
    create=extend_schema(
        summary="Define a custom attribute",
        request=AttributeDefinitionInputSerializer,
        responses={201: AttributeDefinitionSerializer},
    ),
    partial_update=extend_schema(
        summary="Change label, description, required or choices",
        request=AttributeDefinitionUpdateSerializer,
        responses=AttributeDefinitionSerializer,
    ),
    destroy=extend_schema(summary="Delete an attribute no contact uses", responses={204: None}),
)
class AttributeDefinitionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    TenantViewSet,
):
    empty_patch_refused = True  # PATCH {} is a 400: the schema says minProperties 1
    queryset = AttributeDefinition.objects.unscoped().none()
    serializer_class = AttributeDefinitionSerializer
    pagination_class = None
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    permission_map = {
        "list": Perm.CONTACTS_VIEW,
        "retrieve": Perm.CONTACTS_VIEW,
        "create": Perm.ATTRIBUTES_MANAGE,
        "partial_update": Perm.ATTRIBUTES_MANAGE,
        "destroy": Perm.ATTRIBUTES_MANAGE,
    }

    def get_tenant_queryset(self, tenant):
        return selectors.attribute_definition_list(tenant=tenant)

    def create(self, request: Request, *args, **kwargs) -> Response:
        payload = AttributeDefinitionInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        definition = services.attribute_definition_create(tenant=self.tenant, **payload.validated_data)
        return Response(AttributeDefinitionSerializer(definition).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args, **kwargs) -> Response:
        definition = self.get_object()
        payload = AttributeDefinitionInputSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        definition = services.attribute_definition_update(
            tenant=self.tenant, definition_id=definition.pk, changes=payload.validated_data
        )
        return Response(AttributeDefinitionSerializer(definition).data)

    def perform_destroy(self, instance: AttributeDefinition) -> None:
        services.attribute_definition_delete(tenant=self.tenant, definition_id=instance.pk)

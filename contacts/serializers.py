"""Input and output shapes of the contacts API."""

import datetime as dt
import functools

from django.db import connections
from django.db.models import BooleanField, DateTimeField, Value
from django.utils import timezone
from django.utils.functional import cached_property
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from contacts.models import (
    AttributeDefinition,
    AttributeType,
    ChangeSource,
    Contact,
    ContactChangeEntry,
    ContactIdentifier,
    ContactStatus,
    IdentifierChannel,
    MatchKey,
)
from contacts_service.serializers import StrictInputSerializer
from events.serializers import TimelineEntrySerializer


class IdentifierSerializer(serializers.ModelSerializer):
    class Meta:
        model = ContactIdentifier
        fields = ["id", "channel", "value", "verified", "verified_at", "created_at"]


class ContactTagSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    color = serializers.CharField()


class ContactSerializer(serializers.ModelSerializer):
    identifiers = IdentifierSerializer(many=True, read_only=True)
    tags = serializers.SerializerMethodField()

    @extend_schema_field(ContactTagSerializer(many=True))
    def get_tags(self, contact: Contact) -> list[dict]:
        assignments = contact.tag_assignments.all()  # prefetched with their tag by the list selector
        return sorted(
            ({"id": a.tag.pk, "name": a.tag.name, "color": a.tag.color} for a in assignments),
            key=lambda t: t["name"].lower(),
        )

    def to_representation(self, contact: Contact) -> dict:
        """What DRF's field-by-field rendering gives (a test holds them equal), built directly: a
        page of 100 contacts with their identifiers and tags rendered field by field cost ~15 ms,
        several times the queries behind it."""
        data = {name: getattr(contact, name) for name in _PLAIN_FIELDS}
        data["id"] = str(contact.pk)
        data["identifiers"] = [
            {
                "id": str(i.pk),
                "channel": i.channel,
                "value": i.value,
                "verified": i.verified,
                "verified_at": _when(i.verified_at),
                "created_at": _when(i.created_at),
            }
            for i in contact.identifiers.all()
        ]
        data["tags"] = [{**t, "id": str(t["id"])} for t in self.get_tags(contact)]
        for name in ("created_at", "updated_at", "last_activity_at"):
            data[name] = _when(getattr(contact, name))
        for name in self._extra_fields:
            data[name] = self.fields[name].to_representation(getattr(contact, name))
        return {name: data[name] for name in self._order}

    @cached_property
    def _order(self) -> list[str]:
        return list(self.Meta.fields)

    @cached_property
    def _extra_fields(self) -> list[str]:
        return [name for name in self.Meta.fields if name not in ContactSerializer.Meta.fields]

    class Meta:
        model = Contact
        fields = [
            "id",
            "email",
            "first_name",
            "last_name",
            "display_name",
            "company",
            "phone",
            "country",
            "city",
            "status",
            "source",
            "external_id",
            "attributes",
            "identifiers",
            "tags",
            "created_at",
            "updated_at",
            "last_activity_at",
        ]


_PLAIN_FIELDS = ("email", "first_name", "last_name", "display_name", "company", "phone", "country", "city",
                 "status", "source", "external_id", "attributes")  # fmt: skip


_DATETIME = serializers.DateTimeField()

# What a page of contacts is read as: plain rows (no model instances, no prefetch machinery).
CONTACT_ROW_FIELDS = ("id", *_PLAIN_FIELDS, "created_at", "updated_at", "last_activity_at")


def contacts_render(*, tenant, rows: list[dict], extra: tuple[str, ...] = ()) -> list[dict]:
    """A page of contact rows (CONTACT_ROW_FIELDS + extra, datetimes) as ContactSerializer renders
    them (a test holds them equal), with their identifiers and tags read in one query. Model
    instances and prefetch_related cost ~0.4 ms a contact, more than the queries behind the page."""
    if not rows:
        return []
    identifiers: dict = {}
    tags: dict = {}
    for kind, contact_id, pk, first, second, verified, verified_at, created_at in sorted(
        _links(tenant, [row["id"] for row in rows]), key=_link_order
    ):
        if kind == "t":
            tags.setdefault(contact_id, []).append({"id": str(pk), "name": first, "color": second})
            continue
        identifiers.setdefault(contact_id, []).append(
            {
                "id": str(pk),
                "channel": first,
                "value": second,
                "verified": verified,
                "verified_at": _when(verified_at),
                "created_at": _when(created_at),
            }
        )
    rendered = []
    for row in rows:
        contact_id = row["id"]
        data = {"id": str(contact_id)}
        for name in _PLAIN_FIELDS:
            data[name] = row[name]
        data["identifiers"] = identifiers.get(contact_id, [])
        data["tags"] = sorted(tags.get(contact_id, []), key=_tag_key)
        for name in ("created_at", "updated_at", "last_activity_at", *extra):
            data[name] = _when(row[name])
        rendered.append({name: data[name] for name in (*ContactSerializer.Meta.fields, *extra)})
    return rendered


def _links(tenant, ids: list) -> list[tuple]:
    """(kind, contact_id, id, channel or tag name, value or colour, verified, verified_at, created_at)
    of the identifiers ("i") and tags ("t") of these contacts, in one statement.

    On PostgreSQL that statement is written out once (the ids as one array parameter): building
    and compiling the same two-part UNION through the ORM took ~1.5 ms of each page's ~10 ms of
    Python, more than PostgreSQL takes to answer it (~0.3 ms). Elsewhere the ORM builds it."""
    from tags.models import TagAssignment

    connection = connections[ContactIdentifier.objects.db]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_links_sql(), [tenant.pk, ids, tenant.pk, ids])
            return cursor.fetchall()
    nothing = {
        "verified_": Value(None, output_field=BooleanField()),
        "verified_at_": Value(None, output_field=DateTimeField()),
        "created_at_": Value(None, output_field=DateTimeField()),
    }
    identifier_rows = (
        ContactIdentifier.objects.for_tenant(tenant)
        .filter(contact_id__in=ids)
        .annotate(kind=Value("i"))
        .values_list("kind", "contact_id", "id", "channel", "value", "verified", "verified_at", "created_at")
    )
    tag_rows = (
        TagAssignment.objects.for_tenant(tenant)
        .filter(contact_id__in=ids)
        .annotate(kind=Value("t"), **nothing)
        .values_list("kind", "contact_id", "tag_id", "tag__name", "tag__color", *nothing)
    )
    return list(identifier_rows.union(tag_rows, all=True))


@functools.cache
def _links_sql() -> str:
    from tags.models import Tag, TagAssignment

    identifier, assignment, tag = (m._meta.db_table for m in (ContactIdentifier, TagAssignment, Tag))
    return (  # table names from the models; every value is a parameter
        "SELECT 'i', contact_id, id, channel, value, verified, verified_at, created_at "  # noqa: S608
        f"FROM {identifier} WHERE tenant_id = %s AND contact_id = ANY(%s) "
        "UNION ALL SELECT 't', a.contact_id, a.tag_id, t.name, t.color, NULL, NULL::timestamptz, "
        f"NULL::timestamptz FROM {assignment} a JOIN {tag} t ON t.id = a.tag_id "
        "WHERE a.tenant_id = %s AND a.contact_id = ANY(%s)"
    )


def _tag_key(tag: dict) -> str:
    return tag["name"].lower()


def _link_order(row: tuple) -> tuple:
    """Identifiers by channel, then when added (as the detail endpoint lists them); tags as read."""
    return (row[0], row[3], row[7]) if row[0] == "i" else (row[0],)


def _when(value) -> str | None:
    """A datetime as DRF renders it (its own field: the current time zone, ISO 8601, Z). A UTC value
    while UTC is the current time zone (every API request: TIME_ZONE is UTC) is written directly,
    which is what DRF's field does for it at a tenth of the cost (75 values a page)."""
    if value is None:
        return None
    if value.tzinfo is dt.UTC and timezone.get_current_timezone_name() == "UTC":
        text = value.isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text
    return _DATETIME.to_representation(value)


class ContactInputSerializer(StrictInputSerializer):
    """Create (POST) and change (PATCH) a contact. Empty string or null clears a field; on PATCH,
    attributes merge key by key (null removes a key)."""

    email = serializers.CharField(max_length=254, required=False, allow_null=True, allow_blank=True)
    first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, allow_null=True)
    last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, allow_null=True)
    display_name = serializers.CharField(
        max_length=300,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="Derived from the names (or email, phone, company) when empty.",
    )
    company = serializers.CharField(max_length=200, required=False, allow_blank=True, allow_null=True)
    phone = serializers.CharField(
        max_length=40,
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="Stored in E.164. A national number is read in the contact's country.",
    )
    country = serializers.CharField(
        max_length=2, required=False, allow_blank=True, allow_null=True, help_text="ISO 3166-1 alpha-2."
    )
    city = serializers.CharField(max_length=120, required=False, allow_blank=True, allow_null=True)
    status = serializers.ChoiceField(choices=ContactStatus.choices, required=False)
    source = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    external_id = serializers.CharField(max_length=255, required=False, allow_blank=True, allow_null=True)
    attributes = serializers.DictField(
        child=serializers.JSONField(allow_null=True),
        required=False,
        help_text="Custom attribute key -> value.",
    )
    allow_erased = serializers.BooleanField(
        required=False,
        write_only=True,
        help_text="Create only: create the contact even though its email or phone belongs to a contact "
        "erased under GDPR (otherwise 409 with code `erased`).",
    )

    def validate(self, attrs):
        if self.partial and "allow_erased" in attrs:
            raise serializers.ValidationError({"allow_erased": ["Only used when creating a contact."]})
        if self.partial:
            if not attrs:
                raise serializers.ValidationError("Send at least one field to change.")
            return attrs
        if not (attrs.get("email") or attrs.get("phone") or attrs.get("external_id")):
            raise serializers.ValidationError(
                {"email": ["A contact needs an email, a phone or an external_id."]}, code="required"
            )
        return attrs


@extend_schema_serializer(component_name="ContactInput")
class ContactPatchSchemaSerializer(ContactInputSerializer):
    """The body of PATCH /contacts/{id}/ as the schema shows it: allow_erased is create only (the view
    validates with ContactInputSerializer, which answers that field's 400 by name)."""

    allow_erased = None


class IdentifierInputSerializer(StrictInputSerializer):
    channel = serializers.ChoiceField(choices=IdentifierChannel.choices)
    value = serializers.CharField(max_length=512)
    verified = serializers.BooleanField(required=False, default=False)


class IdentifierUpdateSerializer(StrictInputSerializer):
    verified = serializers.BooleanField()


class ResolveQuerySerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=IdentifierChannel.choices)
    identifier = serializers.CharField(max_length=512)


class ContactChangeSerializer(serializers.ModelSerializer):
    source = serializers.ChoiceField(choices=ChangeSource.choices)

    class Meta:
        model = ContactChangeEntry  # one field of a history row (contacts.models.ContactChangeEntry)
        fields = [
            "id",
            "field",
            "old_value",
            "new_value",
            "actor",
            "source",
            "changed_at",
            "correlation_id",
            "event_id",
        ]


class AttributeDefinitionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AttributeDefinition
        fields = [
            "id",
            "key",
            "label",
            "type",
            "choices",
            "required",
            "description",
            "created_at",
            "updated_at",
        ]


class AttributeDefinitionInputSerializer(StrictInputSerializer):
    # normalization.ATTRIBUTE_KEY_RE, and no "__" (the ORM's lookup separator)
    key = serializers.CharField(max_length=64, style={"schema_pattern": r"^(?!.*__)[a-z][a-z0-9_]{0,63}$"})
    label = serializers.CharField(max_length=150)
    type = serializers.ChoiceField(choices=AttributeType.choices)
    choices = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=500
    )
    required = serializers.BooleanField(required=False, default=False)
    description = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AttributeDefinitionUpdateSerializer(AttributeDefinitionInputSerializer):
    """The body of PATCH /attribute-definitions/{id}/ as documented: key and type cannot change (the
    same value is taken, another is a 400 immutable)."""

    key = None
    type = None


MAX_BULK_IDS = 10_000


class ContactSelectionSerializer(StrictInputSerializer):
    """Which contacts a bulk operation applies to: explicit ids, or a filter of the contacts list."""

    contact_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, allow_empty=False, max_length=MAX_BULK_IDS
    )
    filter = serializers.DictField(
        child=serializers.JSONField(),
        required=False,
        help_text='Query parameters of GET /api/v1/contacts/, e.g. {"country": "FR", "tags": "VIP"}.',
    )

    def validate(self, attrs):
        if ("contact_ids" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError({"contact_ids": ["Send either contact_ids or filter."]})
        return attrs

    def selection(self, *, tenant):
        """The validated selection as a queryset of live contacts of `tenant` (call after is_valid)."""
        from contacts.selectors import contact_selection

        return contact_selection(
            tenant=tenant,
            contact_ids=self.validated_data.get("contact_ids"),
            filter_params=self.validated_data.get("filter"),
        )


class ErasureTombstoneFlagsSerializer(serializers.Serializer):
    email = serializers.BooleanField(help_text="A hash of an email address was kept.")
    phone = serializers.BooleanField(help_text="A hash of a phone number was kept.")


class ErasureReceiptSerializer(serializers.Serializer):
    """What an erasure leaves to the caller: no personal data."""

    contact_id = serializers.UUIDField()
    erased_at = serializers.DateTimeField()
    tombstone = ErasureTombstoneFlagsSerializer()


class ExportTagSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    color = serializers.CharField()
    added_at = serializers.DateTimeField()
    added_by = serializers.DictField(help_text="Actor: type, id, label.")


class ExportDuplicateSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    other_contact_id = serializers.UUIDField(help_text="The other contact of the pair.")
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=MatchKey.choices), help_text="The keys the two contacts share."
    )
    score = serializers.IntegerField()
    name_similarity = serializers.FloatField(allow_null=True)
    detected_at = serializers.DateTimeField()
    dismissed_at = serializers.DateTimeField(allow_null=True)


class ExportListSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.CharField()
    added_at = serializers.DateTimeField()


class ExportAttributeSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField(allow_null=True, help_text="Null when the definition no longer exists.")
    type = serializers.CharField(allow_null=True)
    value = serializers.JSONField()


class ExportContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = [
            "id", "email", "first_name", "last_name", "display_name", "company", "phone", "country", "city",
            "status", "source", "external_id", "attributes", "created_at", "updated_at", "last_activity_at",
            "deleted_at",
        ]  # fmt: skip


class ExportAdminLogSerializer(serializers.Serializer):
    action_time = serializers.DateTimeField()
    action = serializers.CharField(help_text="addition, change or deletion")
    object_repr = serializers.CharField()
    change_message = serializers.CharField()


class ContactExportSerializer(serializers.Serializer):
    """GDPR export (documentation of the shape; sections registered by other apps may be added)."""

    format_version = serializers.IntegerField(help_text="1; bumped when a section changes incompatibly.")
    exported_at = serializers.DateTimeField()
    tenant_id = serializers.UUIDField()
    contact_id = serializers.UUIDField()
    contact = ExportContactSerializer(help_text="The contact's fields, also when soft-deleted.")
    attributes = ExportAttributeSerializer(many=True, help_text="Custom attributes with their labels.")
    identifiers = IdentifierSerializer(many=True)
    tags = ExportTagSerializer(many=True)
    lists = ExportListSerializer(many=True)
    consent = serializers.DictField(
        help_text="Current consent state and the full ledger (empty until tracked)."
    )
    activities = serializers.ListField(
        child=serializers.DictField(), help_text="Activity other services reported (empty until tracked)."
    )
    timeline = TimelineEntrySerializer(many=True, help_text="Oldest first.")
    history = ContactChangeSerializer(many=True, help_text="Every field change, oldest first.")
    admin_log = ExportAdminLogSerializer(many=True, help_text="Operators' admin log entries of the contact.")
    duplicates = ExportDuplicateSerializer(
        many=True, help_text="The duplicate candidate pairs naming the contact, either side."
    )
    merges = serializers.ListField(
        child=serializers.DictField(),
        help_text="Merges the contact took part in: merge_id, role, status, primary_id, merged_ids, "
        "merged_at, undone_at, changes, snapshot (the contact as it was before), moved.",
    )

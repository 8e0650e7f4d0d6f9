"""Input and output shapes of duplicates, matching rules and merges."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.models import (
    DEFAULT_NAME_SIMILARITY,
    DuplicateCandidate,
    MatchingRules,
    MatchKey,
    Merge,
    MergeContact,
    MergeStrategy,
)
from contacts.serializers import ContactTagSerializer
from contacts.services.merges import MAX_MERGE_OTHERS
from contacts_service.serializers import StrictInputSerializer


class MatchingRulesSerializer(serializers.ModelSerializer):
    rules = serializers.ListField(
        child=serializers.ListField(child=serializers.ChoiceField(choices=MatchKey.choices)),
        help_text="Each rule lists keys that must all match; a pair matching any rule is a candidate.",
    )
    updated_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the rules were last saved; null while the defaults apply.",
    )

    class Meta:
        model = MatchingRules
        fields = [
            "rules",
            "email_gmail_folding",
            "name_similarity",
            "merge_strategy",
            "updated_at",
            "updated_by",
        ]


class MatchingRulesInputSerializer(StrictInputSerializer):
    """PUT replaces the rules; a field left out takes its default."""

    rules = serializers.ListField(
        child=serializers.ListField(
            child=serializers.ChoiceField(choices=MatchKey.choices), allow_empty=False
        ),
        required=False,
        max_length=20,
        help_text='Default [["email"], ["phone"], ["external_id"], ["name", "company"]]. A rule needs email, '
        "phone or external_id, or both name and company.",
    )
    email_gmail_folding = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Ignore dots and a +suffix in the local part of gmail.com/googlemail.com addresses.",
    )
    name_similarity = serializers.FloatField(
        required=False,
        default=DEFAULT_NAME_SIMILARITY,
        min_value=0.3,
        max_value=1.0,
        help_text="Trigram similarity (0.3-1) from which display names count as similar.",
    )
    merge_strategy = serializers.ChoiceField(
        choices=MergeStrategy.choices, required=False, default=MergeStrategy.FILL_EMPTY
    )


class DuplicateContactSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    display_name = serializers.CharField()
    email = serializers.CharField(allow_null=True)
    phone = serializers.CharField(allow_null=True)
    company = serializers.CharField()
    external_id = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField()


class DuplicateCandidateSerializer(serializers.ModelSerializer):
    contacts = serializers.SerializerMethodField()
    reasons = serializers.ListField(
        child=serializers.ChoiceField(choices=MatchKey.choices), help_text="The keys the two contacts share."
    )

    @extend_schema_field(DuplicateContactSerializer(many=True))
    def get_contacts(self, candidate: DuplicateCandidate) -> list[dict]:
        return DuplicateContactSerializer([candidate.contact_a, candidate.contact_b], many=True).data

    class Meta:
        model = DuplicateCandidate
        fields = [
            "id", "contacts", "reasons", "score", "name_similarity", "detected_at", "updated_at",
            "dismissed_at", "dismissed_by",
        ]  # fmt: skip


class RecomputeSerializer(serializers.Serializer):
    queued = serializers.BooleanField()


class MergeInputSerializer(StrictInputSerializer):
    others = serializers.ListField(
        child=serializers.UUIDField(),
        allow_empty=False,
        max_length=MAX_MERGE_OTHERS,
        help_text="Contacts merged into the primary (they disappear from every read).",
    )
    fields = serializers.DictField(
        child=serializers.UUIDField(),
        required=False,
        help_text='Field (or "attributes.<key>") -> id of the contact whose value the primary keeps.',
    )
    strategy = serializers.ChoiceField(
        choices=MergeStrategy.choices, required=False, help_text="Default: the tenant's matching rules."
    )
    dry_run = serializers.BooleanField(
        required=False, default=False, help_text="Only show the result: nothing is written."
    )


class MergePreviewInputSerializer(MergeInputSerializer):
    """The merge's own body; `dry_run` is taken and changes nothing: the preview never writes
    (contacts.api_merge._merge)."""


class MergedIdentifierSerializer(serializers.Serializer):
    channel = serializers.CharField()
    value = serializers.CharField()


class MergedListSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    kind = serializers.CharField()


class MergedConsentSerializer(serializers.Serializer):
    channel = serializers.CharField()
    purpose = serializers.CharField()
    old = serializers.CharField(allow_null=True)
    new = serializers.CharField()


class MergedContactSerializer(serializers.Serializer):
    """The primary after the merge (as it would be, for a dry run)."""

    id = serializers.UUIDField()
    email = serializers.CharField(allow_null=True)
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    display_name = serializers.CharField()
    company = serializers.CharField()
    phone = serializers.CharField(allow_null=True)
    country = serializers.CharField()
    city = serializers.CharField()
    status = serializers.CharField()
    source = serializers.CharField()
    external_id = serializers.CharField(allow_null=True)
    attributes = serializers.DictField()
    identifiers = MergedIdentifierSerializer(many=True)
    tags = ContactTagSerializer(many=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    last_activity_at = serializers.DateTimeField(allow_null=True)


class MergeOutcomeSerializer(serializers.Serializer):
    merge_id = serializers.UUIDField(allow_null=True, help_text="Null for a dry run.")
    dry_run = serializers.BooleanField()
    strategy = serializers.ChoiceField(choices=MergeStrategy.choices)
    contact = MergedContactSerializer()
    changes = serializers.DictField(help_text="Field -> {old, new} of the primary.")
    sources = serializers.DictField(help_text="Field -> id of the contact its value comes from.")
    conflicts = serializers.ListField(
        child=serializers.CharField(), help_text="Fields where the contacts hold different non-empty values."
    )
    identifiers_added = MergedIdentifierSerializer(many=True)
    tags_added = ContactTagSerializer(many=True)
    lists_added = MergedListSerializer(many=True)
    consent = MergedConsentSerializer(many=True, help_text="The primary's consent states that change.")


class MergeSerializer(serializers.ModelSerializer):
    primary_id = serializers.UUIDField(read_only=True)
    merged_ids = serializers.ListField(child=serializers.UUIDField(), read_only=True)
    fields = serializers.DictField(child=serializers.UUIDField(), read_only=True)
    changes = serializers.DictField(read_only=True, help_text="Field -> {old, new} of the primary.")
    actor = serializers.DictField(read_only=True)
    undone_by = serializers.DictField(read_only=True)

    class Meta:
        model = Merge
        fields = [
            "id", "primary_id", "merged_ids", "strategy", "fields", "changes", "status", "actor",
            "correlation_id", "created_at", "undone_at", "undone_by",
        ]  # fmt: skip


class MergeContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = MergeContact
        fields = ["contact_id", "role", "snapshot", "moved"]


class UndoStateSerializer(serializers.Serializer):
    allowed = serializers.BooleanField()
    code = serializers.CharField(allow_null=True, help_text="Why not: the 409 code undo would answer.")
    message = serializers.CharField(allow_null=True)


class MergeDetailSerializer(MergeSerializer):
    contacts = MergeContactSerializer(many=True, read_only=True)
    undo = serializers.SerializerMethodField()

    @extend_schema_field(UndoStateSerializer)
    def get_undo(self, merge: Merge) -> dict:
        blocker = self.context.get("blocker")
        return {
            "allowed": blocker is None,
            "code": blocker.code if blocker else None,
            "message": blocker.message if blocker else None,
        }

    class Meta(MergeSerializer.Meta):
        fields = [*MergeSerializer.Meta.fields, "contacts", "undo"]

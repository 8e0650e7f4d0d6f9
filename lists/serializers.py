from rest_framework import serializers

from contacts.serializers import ContactSerializer
from contacts_service.serializers import StrictInputSerializer
from lists.models import ContactList, ListKind, ListStatus


class ContactListSerializer(serializers.ModelSerializer):
    member_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = ContactList
        fields = [
            "id", "name", "description", "kind", "status", "rules", "member_count", "created_by",
            "created_at", "updated_at",
        ]  # fmt: skip


class ContactListInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=150)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    kind = serializers.ChoiceField(choices=ListKind.choices, required=False)
    status = serializers.ChoiceField(choices=ListStatus.choices, required=False)
    rules = serializers.JSONField(
        required=False, help_text="Dynamic lists: {operator: and|or, rules: [{field, op, value} | group]}."
    )


class ListMemberSerializer(ContactSerializer):
    added_at = serializers.DateTimeField(read_only=True)

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "added_at"]


class SegmentPreviewInputSerializer(StrictInputSerializer):
    rules = serializers.JSONField()


class SegmentPreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = ContactSerializer(many=True)

from rest_framework import serializers

from contacts_service.serializers import StrictInputSerializer
from tags.models import Tag


class TagSerializer(serializers.ModelSerializer):
    contact_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "name", "color", "description", "contact_count", "created_at", "updated_at"]


class TagInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=100)
    color = serializers.CharField(
        max_length=7,
        required=False,
        help_text="#RRGGBB, default #6B7280.",
        style={"schema_pattern": "^#[0-9A-Fa-f]{6}$"},
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)


class ContactTagsInputSerializer(StrictInputSerializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), allow_empty=False, max_length=50
    )


class BulkResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text="Contacts that changed; the others already were as asked.")


class TagBriefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()
    color = serializers.CharField()

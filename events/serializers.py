from rest_framework import serializers

from contacts_service.serializers import StrictInputSerializer
from events.models import OutboxEvent, TimelineEntry


class TimelineEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = TimelineEntry
        fields = [
            "id",
            "event_id",
            "event_type",
            "occurred_at",
            "title",
            "data",
            "actor",
            "source",
            "correlation_id",
        ]


class OutboxEventSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField(
        help_text="pending, sent, or failed (pending after failed attempts)"
    )

    class Meta:
        model = OutboxEvent
        fields = [
            "id", "event_id", "event_type", "aggregate_type", "aggregate_id", "sequence", "status",
            "created_at", "sent_at", "replayed_at", "attempts", "last_error", "payload",
        ]  # fmt: skip

    def get_status(self, obj: OutboxEvent) -> str:
        if obj.sent_at is not None:
            return "sent"
        return "failed" if obj.attempts else "pending"


class ReplayInputSerializer(StrictInputSerializer):
    created_after = serializers.DateTimeField(help_text="Replay events created at or after this time.")
    created_before = serializers.DateTimeField(help_text="... and before this time.")
    event_type = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=50,
        help_text="Only these types.",
    )
    contact_id = serializers.UUIDField(required=False, help_text="Only this contact's events.")

    def validate(self, attrs):
        if attrs["created_after"] >= attrs["created_before"]:
            raise serializers.ValidationError({"created_before": "Must be after created_after."})
        return attrs


class ReplayResultSerializer(serializers.Serializer):
    replayed = serializers.IntegerField(help_text="Events queued for publication again (same event_ids).")

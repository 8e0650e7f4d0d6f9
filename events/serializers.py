from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail

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


class ActivitySerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="activity_type")

    class Meta:
        from events.models import Activity

        model = Activity
        fields = ["id", "contact_id", "type", "occurred_at", "title", "data", "idempotency_key", "source",
                  "recorded_at", "event_id"]  # fmt: skip


class ActivityInputSerializer(StrictInputSerializer):
    type = serializers.CharField(
        max_length=64,
        help_text="e.g. email_opened, form_submitted, order_placed.",
        style={"schema_pattern": r"^[a-z][a-z0-9_.\-]{0,63}$"},  # events.activities.ACTIVITY_TYPE
    )
    occurred_at = serializers.DateTimeField(required=False, help_text="Default: now. Not in the future.")
    title = serializers.CharField(max_length=300, required=False, allow_blank=True)
    data = serializers.DictField(required=False, help_text="Any JSON object, at most 16 KB.")
    idempotency_key = serializers.CharField(
        max_length=255, required=False, help_text="A second post with the same key (per tenant) is ignored."
    )
    source = serializers.CharField(
        max_length=32, required=False, allow_blank=True, help_text="The reporting service, e.g. newsletters."
    )

    def validate(self, attrs):
        from events.activities import ActivityInput, activity_problems

        problems = activity_problems(
            ActivityInput(
                activity_type=attrs.get("type", ""),
                occurred_at=attrs.get("occurred_at"),
                title=attrs.get("title", ""),
                data=attrs.get("data", {}),
                idempotency_key=attrs.get("idempotency_key"),
            )
        )
        if problems:
            # The service's codes (too_large, future, ...) kept: plain messages would all read `invalid`.
            raise serializers.ValidationError(
                {p["field"]: [ErrorDetail(p["message"], code=p["code"])] for p in problems}
            )
        return attrs


class BatchActivityInputSerializer(ActivityInputSerializer):
    contact_id = serializers.UUIDField(required=False)
    email = serializers.EmailField(max_length=254, required=False, help_text="Instead of contact_id.")

    def validate(self, attrs):
        if bool(attrs.get("contact_id")) == bool(attrs.get("email")):
            raise serializers.ValidationError({"contact_id": "Give exactly one of contact_id and email."})
        return super().validate(attrs)


class ActivityBatchInputSerializer(StrictInputSerializer):
    activities = BatchActivityInputSerializer(many=True, allow_empty=False, max_length=500)


class ActivityItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["created", "duplicate", "contact_not_found"])
    activity_id = serializers.UUIDField(allow_null=True)
    contact_id = serializers.UUIDField(allow_null=True)


class ActivityBatchResultSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    contacts_not_found = serializers.IntegerField()
    results = ActivityItemResultSerializer(many=True)


class ActivityRecordedSerializer(ActivitySerializer):
    duplicate = serializers.BooleanField(
        help_text="True when an activity with this idempotency key existed: it is returned, nothing new."
    )

    class Meta(ActivitySerializer.Meta):
        fields = [*ActivitySerializer.Meta.fields, "duplicate"]

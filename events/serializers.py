from rest_framework import serializers

from events.models import TimelineEntry


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

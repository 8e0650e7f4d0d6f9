"""Serializer pieces shared by every app: strict input, the error body for the schema."""

from collections.abc import Mapping

from rest_framework import serializers


class StrictInputSerializer(serializers.Serializer):
    """Input serializer that names unknown or read-only fields instead of silently dropping them."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown or read-only field."] for name in unknown})
        return super().to_internal_value(data)


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the field, or null.")
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx response."""

    code = serializers.CharField(help_text="Machine-readable error code, e.g. validation_error, not_found.")
    message = serializers.CharField()
    errors = ErrorItemSerializer(many=True)
    correlation_id = serializers.CharField()

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from consent.models import (
    ConsentChannel,
    ConsentPurpose,
    ConsentRecord,
    ConsentState,
    ConsentStatus,
    LegalBasis,
)
from contacts_service.serializers import StrictInputSerializer


class ConsentPurposeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentPurpose
        fields = ["id", "key", "label", "description", "created_at"]


class ConsentPurposeInputSerializer(StrictInputSerializer):
    key = serializers.SlugField(max_length=64, help_text="Stable key used in the ledger; cannot change.")
    label = serializers.CharField(max_length=150, required=False, allow_blank=True)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class ConsentPurposeUpdateSerializer(StrictInputSerializer):
    label = serializers.CharField(max_length=150, required=False)
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True)


@extend_schema_field({"type": "object", "additionalProperties": {}})
class JSONObjectField(serializers.JSONField):
    """Any JSON value in, documented as the object the service requires (its own check answers
    "Must be a JSON object." for anything else, as before)."""


class ConsentInputSerializer(StrictInputSerializer):
    channel = serializers.ChoiceField(choices=ConsentChannel.choices)
    purpose = serializers.CharField(max_length=64, help_text="One of the tenant's consent purposes.")
    status = serializers.ChoiceField(
        choices=ConsentStatus.choices, help_text="pending starts a double opt-in and returns a token."
    )
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices, default=LegalBasis.CONSENT)
    source = serializers.CharField(
        max_length=64, required=False, allow_blank=True, help_text="Where it was given, e.g. signup_form."
    )
    proof = JSONObjectField(
        required=False, help_text="JSON object (at most 16 KB): form text, page URL, checkbox label..."
    )
    ip_address = serializers.IPAddressField(
        required=False, help_text="The contact's IP when a service relays a sign-up; default: the caller's."
    )
    user_agent = serializers.CharField(
        max_length=512,
        required=False,
        allow_blank=True,
        help_text="The contact's browser; default: caller's.",
    )


class ConsentRecordSerializer(serializers.ModelSerializer):
    confirms = serializers.UUIDField(source="confirms_id", read_only=True, allow_null=True)

    class Meta:
        model = ConsentRecord
        fields = [
            "id", "channel", "purpose", "status", "legal_basis", "source", "proof", "ip_address",
            "user_agent", "request_ip", "actor", "correlation_id", "recorded_at", "applied", "confirms",
            "event_id",
        ]  # fmt: skip


class ConsentStateSerializer(serializers.ModelSerializer):
    record_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = ConsentState
        fields = ["channel", "purpose", "status", "legal_basis", "source", "confirmed_at", "updated_at",
                  "record_id"]  # fmt: skip


class ConsentsSerializer(serializers.Serializer):
    current = ConsentStateSerializer(many=True, help_text="Current status per channel and purpose.")
    ledger = ConsentRecordSerializer(many=True, help_text="Every statement, newest first.")


class ConfirmationSerializer(serializers.Serializer):
    token = serializers.CharField()
    url = serializers.CharField(help_text="The link to send to the contact.")
    expires_at = serializers.DateTimeField()


class ConsentRecordedSerializer(serializers.Serializer):
    record = ConsentRecordSerializer()
    state = ConsentStateSerializer(allow_null=True)
    changed = serializers.BooleanField(help_text="Whether the current status changed.")
    confirmation = ConfirmationSerializer(
        allow_null=True, help_text="For pending: the double opt-in token; null when already granted."
    )
    detail = serializers.CharField()


class ConfirmedSerializer(serializers.Serializer):
    status = serializers.CharField()
    channel = serializers.CharField()
    purpose = serializers.CharField()
    confirmed_at = serializers.DateTimeField()

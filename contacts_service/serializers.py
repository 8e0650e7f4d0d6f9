"""Serializer pieces shared by every app: strict input, the error body for the schema."""

from collections.abc import Mapping

from django.http import QueryDict
from rest_framework import serializers

# The JSON types a field takes as the schema documents it. DRF's fields coerce more than they say
# (CharField takes 0 as "0", BooleanField takes 0 and "yes", IntegerField takes "5"), which a client
# relying on the documented types would never see; a JSON body must send what the schema says.
# Form and query data (QueryDict) are all strings, so they keep DRF's coercion.
# Lists and dicts are left to DRF, which already refuses the wrong container (not_a_list, not_a_dict).
JSON_TYPES: tuple[tuple[type[serializers.Field], tuple[type, ...]], ...] = (
    (serializers.BooleanField, (bool,)),
    (serializers.CharField, (str,)),
    (serializers.UUIDField, (str,)),
    (serializers.DateTimeField, (str,)),
    (serializers.DateField, (str,)),
    (serializers.IntegerField, (int,)),
    (serializers.FloatField, (int, float)),
)


def json_type_error(field: serializers.Field, value) -> str | None:
    """Why `value` is not of the JSON type `field` documents, or None when it is."""
    if value is None:
        return None  # the field's own allow_null decides
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return next((e for e in (json_type_error(field.child, v) for v in value) if e), None)
    if isinstance(field, serializers.DictField) and isinstance(value, dict):
        errors = ((key, json_type_error(field.child, v)) for key, v in value.items())
        return next((f"{key}: {error}" for key, error in errors if error), None)
    for field_class, types in JSON_TYPES:
        if isinstance(field, field_class):
            if isinstance(value, bool) and bool not in types:
                return f"Expected {types[0].__name__}, got a boolean."
            if not isinstance(value, types):
                return f"Expected {types[0].__name__}, got {type(value).__name__}."
            return None
    return None


class StrictInputSerializer(serializers.Serializer):
    """Input serializer that names unknown or read-only fields instead of silently dropping them,
    and refuses JSON values of another type than the field documents (see JSON_TYPES)."""

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown or read-only field."] for name in unknown})
            if not isinstance(data, QueryDict):
                wrong = {name: json_type_error(self.fields[name], value) for name, value in data.items()}
                wrong = {name: [error] for name, error in wrong.items() if error}
                if wrong:
                    # The other fields are still checked, so one 400 names every problem.
                    rest = {name: value for name, value in data.items() if name not in wrong}
                    try:
                        super().to_internal_value(rest)
                    except serializers.ValidationError as exc:
                        if isinstance(exc.detail, dict):
                            wrong = {**exc.detail, **wrong}
                    raise serializers.ValidationError(wrong)
        return super().to_internal_value(data)


class ErrorItemSerializer(serializers.Serializer):
    field = serializers.CharField(allow_null=True, help_text="Dotted path of the field, or null.")
    code = serializers.CharField()
    message = serializers.CharField()


class NamedRefSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class ErrorSerializer(serializers.Serializer):
    """The body of every 4xx and 5xx response."""

    code = serializers.CharField(help_text="Machine-readable error code, e.g. validation_error, not_found.")
    message = serializers.CharField()
    errors = ErrorItemSerializer(many=True)
    correlation_id = serializers.CharField()
    # What some codes add (docs/api.md names each): the contact or merge the refusal is about.
    merge_id = serializers.UUIDField(
        required=False,
        help_text="`merged` (the merge that applies), `later_merge` (the later one); `not_found` of a "
        "contact merged into another: the merge that took it.",
    )
    primary_id = serializers.UUIDField(
        required=False,
        help_text="`merged`: the contact it was merged into; `not_found` of a contact merged into another: "
        "the live contact holding it now (through merges of merges).",
    )
    contact_id = serializers.UUIDField(
        required=False, help_text="`changed_since`, `erased`, `unique` of an undo: the contact concerned."
    )
    limit = serializers.IntegerField(
        required=False, help_text="`too_many_rows` of an export: the most rows one export may hold."
    )
    segments = NamedRefSerializer(
        many=True, required=False, help_text="`in_use` of a list: the dynamic lists whose rules name it."
    )
    imports = serializers.ListField(
        child=serializers.UUIDField(),
        required=False,
        help_text="`in_use` of a list: the imports under way that add their rows to it.",
    )
    in_use = serializers.IntegerField(
        required=False, help_text="`in_use` of an attribute definition: how many contacts hold a value."
    )


class RateLimitSerializer(serializers.Serializer):
    scope = serializers.CharField(help_text="tenant, api_key, user or expensive.")
    limit = serializers.IntegerField(help_text="Requests allowed per period.")
    period_seconds = serializers.IntegerField()
    plan = serializers.CharField(help_text="The tenant's plan, whose RATE_LIMIT_PLANS entry set the limit.")


class RateLimitedSerializer(serializers.Serializer):
    """The body of a 429: the error, the limit that refused and when to retry."""

    code = serializers.CharField(help_text="`rate_limited`.")
    message = serializers.CharField()
    errors = ErrorItemSerializer(many=True)
    correlation_id = serializers.CharField()
    retry_after = serializers.IntegerField(help_text="Whole seconds to wait, as the Retry-After header says.")
    limit = RateLimitSerializer()

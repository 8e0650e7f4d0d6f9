from rest_framework import serializers

from contacts.serializers import ContactSerializer
from contacts_service.serializers import StrictInputSerializer
from lists.models import ContactList, ListKind, ListStatus
from lists.services import SetOperation


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


class ContactListUpdateSerializer(ContactListInputSerializer):
    """The body of PATCH /lists/{id}/ as documented: a list's kind cannot change (the same value is
    taken, another is a 400 immutable)."""

    kind = None


class ListMemberSerializer(ContactSerializer):
    added_at = serializers.DateTimeField(read_only=True)

    class Meta(ContactSerializer.Meta):
        fields = [*ContactSerializer.Meta.fields, "added_at"]


class SegmentPreviewInputSerializer(StrictInputSerializer):
    rules = serializers.JSONField()


class SegmentPreviewSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    count_is_estimate = serializers.BooleanField(help_text="count is the planner's estimate (see Paging).")
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as ?cursor= for the next page.")
    results = ContactSerializer(many=True)


class ListCopyInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=150)
    description = serializers.CharField(
        required=False, allow_blank=True, max_length=5000, help_text="Defaults to the original's."
    )
    kind = serializers.ChoiceField(
        choices=ListKind.choices,
        required=False,
        help_text="Defaults to the original's kind; `static` copies a dynamic list's current members.",
    )


class ListMergeInputSerializer(StrictInputSerializer):
    lists = serializers.ListField(
        child=serializers.UUIDField(),
        min_length=1,
        max_length=50,
        help_text="Lists whose members join this one.",
    )
    delete_merged = serializers.BooleanField(
        default=False, help_text="Delete the merged lists afterwards (their members leave them, with events)."
    )


class ListCombineInputSerializer(StrictInputSerializer):
    name = serializers.CharField(max_length=150)
    description = serializers.CharField(required=False, allow_blank=True, max_length=5000)
    operation = serializers.ChoiceField(
        choices=SetOperation.choices,
        help_text="union: in any list; intersection: in every list; difference: in the first list and none "
        "of the others; at_least: in at least `min_lists` of them.",
    )
    lists = serializers.ListField(child=serializers.UUIDField(), min_length=1, max_length=50)
    min_lists = serializers.IntegerField(required=False, min_value=1, help_text="For at_least only.")


class ListShareInputSerializer(StrictInputSerializer):
    user_id = serializers.UUIDField(required=False, help_text="A member of the tenant (or give `email`).")
    email = serializers.EmailField(required=False, help_text="Email of a member of the tenant.")

    def validate(self, attrs):
        if ("user_id" in attrs) == ("email" in attrs):
            raise serializers.ValidationError({"user_id": "Give exactly one of user_id or email."})
        return attrs


class ListShareSerializer(serializers.Serializer):
    user_id = serializers.UUIDField(source="user.pk")
    email = serializers.CharField(
        source="user.email", help_text="The user's email; empty when their token's email is not verified."
    )
    role = serializers.CharField(help_text="The member's role in the tenant.")
    permission = serializers.SerializerMethodField()

    def get_permission(self, obj) -> str:
        return "manage_list"

import django_filters
from django.db.models import Q
from rest_framework.exceptions import ValidationError

from contacts_service.filters import FilterSet, IsoDateTimeFilter
from events.models import OutboxEvent, TimelineEntry


class OutboxFilter(FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[("pending", "pending"), ("sent", "sent"), ("failed", "failed")],
        method="filter_status",
        help_text="pending: not sent yet; failed: not sent after at least one attempt; sent.",
    )
    event_type = django_filters.CharFilter(method="filter_types", help_text="Comma-separated event types.")
    contact = django_filters.UUIDFilter(field_name="aggregate_id", help_text="Events of one contact.")
    event_id = django_filters.UUIDFilter(field_name="event_id")
    created_after = IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = OutboxEvent
        fields: list[str] = []

    def filter_status(self, queryset, name, value):
        return {
            "sent": queryset.filter(sent_at__isnull=False),
            "pending": queryset.filter(sent_at__isnull=True),
            "failed": queryset.filter(Q(sent_at__isnull=True) & Q(attempts__gt=0)),
        }[value]

    def filter_types(self, queryset, name, value):
        types = [t.strip() for t in value.split(",") if t.strip()]
        return queryset.filter(event_type__in=types) if types else queryset


MAX_TYPES = 20


def _parts(value: str, name: str) -> list[str]:
    """The comma-separated types of a filter; more than MAX_TYPES is a 400, never silently cut."""
    parts = [t.strip() for t in value.split(",") if t.strip()]
    if len(parts) > MAX_TYPES:
        raise ValidationError({name: [f"At most {MAX_TYPES} types."]})
    return parts


class TimelineFilter(FilterSet):
    type = django_filters.CharFilter(
        method="filter_types",
        help_text="Up to 20 comma-separated event types, e.g. contact.updated,contact.activity_recorded; "
        "a trailing * matches a prefix (contact.consent*).",
    )
    activity_type = django_filters.CharFilter(
        method="filter_activity_types",
        help_text="Up to 20 comma-separated activity types, e.g. email_opened.",
    )
    occurred_after = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte")
    occurred_before = IsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt")

    class Meta:
        model = TimelineEntry
        fields: list[str] = []

    def filter_types(self, queryset, name, value):
        condition = Q()
        for part in _parts(value, name):
            if part.endswith("*"):
                condition |= Q(event_type__startswith=part[:-1])
            else:
                condition |= Q(event_type=part)
        return queryset.filter(condition) if condition else queryset

    def filter_activity_types(self, queryset, name, value):
        types = _parts(value, name)
        if not types:
            return queryset
        return queryset.filter(event_type="contact.activity_recorded", data__activity_type__in=types)

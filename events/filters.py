import django_filters
from django.db.models import Q

from events.models import OutboxEvent


class OutboxFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[("pending", "pending"), ("sent", "sent"), ("failed", "failed")],
        method="filter_status",
        help_text="pending: not sent yet; failed: not sent after at least one attempt; sent.",
    )
    event_type = django_filters.CharFilter(method="filter_types", help_text="Comma-separated event types.")
    contact = django_filters.UUIDFilter(field_name="aggregate_id", help_text="Events of one contact.")
    event_id = django_filters.UUIDFilter(field_name="event_id")
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

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

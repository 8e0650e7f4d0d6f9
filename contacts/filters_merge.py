"""Query parameters of the duplicates and merges lists."""

import django_filters
from django.db.models import Q
from drf_spectacular.utils import extend_schema_field

from contacts.models import DuplicateCandidate, MatchKey, Merge, MergeStatus
from contacts_service.filters import FilterSet


@extend_schema_field({"type": "number", "minimum": 0, "maximum": 100})
class ScoreFilter(django_filters.NumberFilter):
    """A score bound: a number from 0 to 100 (the schema said integer, yet 99.5 is taken and meant)."""

    def get_max_validator(self):
        return None  # max_value=100 bounds it: 1e400 got that error and django-filter's "<= 1e+50" too


class DuplicateFilter(FilterSet):
    reason = django_filters.ChoiceFilter(
        choices=MatchKey.choices, method="filter_reason", help_text="Pairs sharing this key."
    )
    min_score = ScoreFilter(
        field_name="score", lookup_expr="gte", min_value=0, max_value=100, help_text="Score from 0 to 100."
    )
    contact = django_filters.UUIDFilter(method="filter_contact", help_text="Pairs with this contact.")
    status = django_filters.ChoiceFilter(
        choices=[("open", "open"), ("dismissed", "dismissed"), ("all", "all")],
        method="filter_status",
        empty_label=None,
        help_text="open (default): not dismissed; dismissed; all.",
    )

    class Meta:
        model = DuplicateCandidate
        fields: list[str] = []

    def filter_queryset(self, queryset):
        if not self.form.cleaned_data.get("status"):
            queryset = queryset.filter(dismissed_at__isnull=True)
        return super().filter_queryset(queryset)

    def filter_reason(self, queryset, name, value):
        return queryset.filter(**{f"match_{value}": True})

    def filter_contact(self, queryset, name, value):
        return queryset.filter(Q(contact_a_id=value) | Q(contact_b_id=value))

    def filter_status(self, queryset, name, value):
        return {
            "open": queryset.filter(dismissed_at__isnull=True),
            "dismissed": queryset.filter(dismissed_at__isnull=False),
            "all": queryset,
        }[value]


class MergeFilter(FilterSet):
    contact = django_filters.UUIDFilter(
        field_name="contacts__contact_id", distinct=True, help_text="Merges this contact took part in."
    )
    status = django_filters.ChoiceFilter(choices=MergeStatus.choices)

    class Meta:
        model = Merge
        fields: list[str] = []

"""Filter pieces shared by every app's filter sets."""

import datetime as dt

import django_filters
from django.core.exceptions import ValidationError
from django.utils import timezone
from django_filters.fields import IsoDateTimeField


class UTCIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date-time, handed to the database in UTC. Python takes UTC offsets up to
    +-23:59 but PostgreSQL only up to +-15:59, so `?created_after=2020-01-01T00:00:00+18:00`
    passed through as written was a DataError and a 500."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is not None and timezone.is_aware(value):
            try:
                return value.astimezone(dt.UTC)
            except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
                raise ValidationError(self.error_messages["invalid"], code="invalid") from exc
        return value


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UTCIsoDateTimeField

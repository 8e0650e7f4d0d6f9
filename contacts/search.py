"""The `search` parameter of the contacts list: every word must appear in the email, names or company
of a contact (substring, any case); a number also matches the phone by its digits.

On PostgreSQL each word is one `LIKE '%WORD%'` on contact_search_text(...), which the trigram index
contact_search_trgm serves. A word that most contacts hold ("Company", "gmail") is the exception:
the index returns every contact for it and the scan costs as much as reading the table, so it is
matched against `contact_search_text(...) || ''` instead, an expression the index does not serve
but which has statistics of its own (contacts migration 0011), so the planner still knows how many
contacts it matches (for counts and plans). The other words, or the created_at order stopping at
the first page, find the rows. Which words are common comes from the
planner's own sample of search texts (pg_stats_ext_exprs, kept by ANALYZE; contacts migration
0011), read once per SEARCH_STATS_SECONDS per process: no table of our own to keep current.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import F, Func, Q, QuerySet, TextField, Value
from django.db.models.functions import Upper
from rest_framework.exceptions import ValidationError

from contacts.models import Contact
from contacts.normalization import FieldError, normalize_phone

logger = logging.getLogger(__name__)

PHONE_LIKE = re.compile(r"^[\d\s()+.\-]+$")
SEARCH_FIELDS = ("email", "first_name", "last_name", "display_name", "company")
MAX_WORDS = 8
STATISTICS_NAME = "contact_search_text_stats"


class SearchText(Func):
    """contact_search_text(email, first_name, last_name, display_name, company): the upper-cased
    text `search` matches, as indexed by contact_search_trgm."""

    function = "contact_search_text"
    output_field = TextField()
    # Read by contacts_service.pagination: a filter on it costs more per row than the planner thinks.
    costly_per_row = True

    def __init__(self):
        super().__init__(*(F(name) for name in SEARCH_FIELDS))


class UnindexedSearchText(SearchText):
    """The same text as an expression contact_search_trgm does not match (statistics:
    contact_search_filter_stats)."""

    template = "(%(function)s(%(expressions)s) || '')"


def search_contacts(queryset: QuerySet[Contact], text: str) -> QuerySet[Contact]:
    text = text.strip()
    if not text:
        return queryset
    if PHONE_LIKE.match(text) and len(re.sub(r"\D", "", text)) >= 3:
        digits = re.sub(r"\D", "", text)
        if text.startswith("+"):  # a whole international number is matched as stored: its E.164 digits
            # ("+33 (0)6 12 34 56 78" is +33612345678: the trunk 0 is not in it); a fragment: its digits
            with contextlib.suppress(FieldError):
                digits = normalize_phone(text, field="search").removeprefix("+")
        return queryset.filter(Q(phone__contains=digits.lstrip("0") or digits) | Q(email__icontains=text))
    words = list(dict.fromkeys(text.split()))  # a word said twice is matched once
    if len(words) > MAX_WORDS:  # never dropped: a dropped word would widen the answer
        raise ValidationError({"search": [f"At most {MAX_WORDS} different words."]})
    if connections[queryset.db].vendor != "postgresql":
        condition = Q()
        for word in words:
            word_condition = Q()
            for field in SEARCH_FIELDS:
                word_condition |= Q(**{f"{field}__icontains": word})
            condition &= word_condition
        return queryset.filter(condition)
    common = common_words(words, using=queryset.db)
    queryset = queryset.alias(search_text=SearchText(), search_text_unindexed=UnindexedSearchText())
    condition = Q()
    for word in words:
        field = "search_text_unindexed" if word.upper() in common else "search_text"
        condition &= Q(**{f"{field}__contains": Upper(Value(word))})
    return queryset.filter(condition)


_samples: dict[str, tuple[float, tuple[tuple[str, float], ...], tuple[str, ...], float]] = {}
_samples_lock = threading.Lock()


def common_words(words: list[str], *, using: str = "default") -> set[str]:
    """The upper-cased words held by at least SEARCH_COMMON_WORD_FRACTION of all contacts, by the
    planner's sample. Empty before the first ANALYZE, or when the statistics cannot be read."""
    threshold = settings.SEARCH_COMMON_WORD_FRACTION
    if threshold <= 0 or threshold > 1:
        return set()
    common = set()
    for word in words:
        upper = word.upper()
        if word_fraction(upper, using=using) >= threshold:
            common.add(upper)
    return common


def word_fraction(upper_word: str, *, using: str = "default") -> float:
    """Fraction of contacts whose search text holds upper_word, from the most common values (with
    their frequencies) and the histogram (an even sample of the rest) that ANALYZE keeps."""
    mcv, histogram, rest = _sample(using)
    if not mcv and not histogram:
        return 0.0
    fraction = sum(frequency for value, frequency in mcv if upper_word in value)
    if histogram:
        fraction += rest * sum(1 for value in histogram if upper_word in value) / len(histogram)
    return fraction


def _sample(using: str) -> tuple[tuple[tuple[str, float], ...], tuple[str, ...], float]:
    now = time.monotonic()
    cached = _samples.get(using)
    if cached and cached[0] > now:
        return cached[1:]
    with _samples_lock:
        cached = _samples.get(using)
        if cached and cached[0] > now:
            return cached[1:]
        mcv, histogram, rest = (), (), 0.0
        try:
            with transaction.atomic(using=using), connections[using].cursor() as cursor:
                cursor.execute(
                    "SELECT most_common_vals::text::text[], most_common_freqs, "
                    "histogram_bounds::text::text[], "
                    "null_frac FROM pg_stats_ext_exprs WHERE statistics_name = %s LIMIT 1",
                    [STATISTICS_NAME],
                )
                row = cursor.fetchone()
        except DatabaseError:  # PostgreSQL < 14, or no right to read the statistics
            logger.warning("Search statistics %s cannot be read; every word uses the index", STATISTICS_NAME)
            row = None
        if row is None:
            # No ANALYZE yet, or a role that does not own contacts_contact (pg_stats_ext_exprs shows
            # only the owner's statistics): every word then uses the index, as before 0011.
            logger.info("No search statistics %s visible to this role yet; every word uses the index",
                        STATISTICS_NAME)  # fmt: skip
        if row:
            values, frequencies, bounds, null_fraction = row
            mcv = tuple(zip(values or (), frequencies or (), strict=True))
            histogram = tuple(bounds or ())
            rest = max(0.0, 1.0 - (null_fraction or 0.0) - sum(frequencies or ()))
        _samples[using] = (now + settings.SEARCH_STATS_SECONDS, mcv, histogram, rest)
        return mcv, histogram, rest


def forget_sample() -> None:
    """Drop the cached statistics (tests, and after an ANALYZE that should count at once)."""
    _samples.clear()

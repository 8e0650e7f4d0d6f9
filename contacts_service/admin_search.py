"""What every model admin shares: a bound on the search box, and a changelist that answers a lookup
the database refuses as one it cannot use."""

from django.contrib import messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db import DataError, OperationalError, connections, transaction

from contacts.search import MAX_WORDS as MAX_SEARCH_WORDS  # as the API's search


class SafeChangeList(ChangeList):
    """The changelist's usual answer to a lookup it cannot use (a redirect to ?e=1) also when the
    database refuses it: Django admits any lookup on a model's fields in the URL, and `?name__regex=(`
    failed in PostgreSQL while the page counted its rows (a 500 on every changelist); likewise a date
    drill-down year past Python's dates (OverflowError, which Django does not catch)."""

    def get_filters(self, request):
        try:
            return super().get_filters(request)
        except OverflowError as exc:
            raise IncorrectLookupParameters(exc) from exc

    def get_results(self, request):
        db = self.root_queryset.db
        try:
            with transaction.atomic(using=db):  # a savepoint inside a transaction
                super().get_results(request)
        except DataError as exc:  # PostgreSQL: invalid regular expression
            raise IncorrectLookupParameters(exc) from exc
        except OperationalError as exc:  # SQLite: its REGEXP function (Python's re) raised
            if connections[db].vendor != "sqlite":
                raise
            raise IncorrectLookupParameters(exc) from exc


class BoundedSearchMixin:
    """Django ANDs the words of a search, each an OR over every search field: a pasted page of text
    (2,000 words) made a statement of 14,000 LIKEs that ran for minutes. More than MAX_SEARCH_WORDS
    different words are refused with a message, as the API refuses them (a word dropped would widen
    the answer). The changelist is SafeChangeList."""

    def get_changelist(self, request, **kwargs):
        return SafeChangeList

    def get_search_results(self, request, queryset, search_term):
        words = list(dict.fromkeys(search_term.split()))  # a word said twice is matched once, as the API
        if len(words) < len(search_term.split()):
            search_term = " ".join(words)
        if len(words) > MAX_SEARCH_WORDS:
            self.message_user(
                request, f"Search for at most {MAX_SEARCH_WORDS} different words.", messages.ERROR
            )
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

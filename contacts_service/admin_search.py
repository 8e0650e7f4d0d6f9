"""A bound on the admin's search box, shared by every model admin that has one."""

from django.contrib import messages

from contacts.search import MAX_WORDS as MAX_SEARCH_WORDS  # as the API's search


class BoundedSearchMixin:
    """Django ANDs the words of a search, each an OR over every search field: a pasted page of text
    (2,000 words) made a statement of 14,000 LIKEs that ran for minutes. More than MAX_SEARCH_WORDS
    different words are refused with a message, as the API refuses them (a word dropped would widen
    the answer)."""

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

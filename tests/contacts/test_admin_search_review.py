"""Review of BoundedSearchMixin: a word said many times counts once, and is searched once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from contacts_service.admin_search import MAX_SEARCH_WORDS
from tests.factories import ContactFactory


@pytest.mark.django_db
def test_one_word_repeated_is_bounded_like_many_words(operator_client, tenant):
    """'w1' x 500 passed the different-words check and became 500 x 7 LIKEs (Django ANDs every word)."""
    ContactFactory(tenant=tenant, email="w1@example.com")
    with CaptureQueriesContext(connection) as queries:
        response = operator_client.get(
            reverse("admin:contacts_contact_changelist"), {"q": " ".join(["w1"] * 500)}
        )
    assert response.status_code == 200
    assert "w1@example.com" in response.content.decode()
    most = max(q["sql"].count(" LIKE ") for q in queries.captured_queries)
    assert most <= MAX_SEARCH_WORDS * 7, most

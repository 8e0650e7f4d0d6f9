"""`search` with words most contacts hold: the same results, counted the same, but such words are
matched outside the trigram index (contacts.search)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from contacts import search
from tests.factories import ContactFactory

LIST = reverse("contact-list")


@pytest.fixture
def analysed(tenant, other_tenant):
    """40 contacts of one company (4 of them also 'Zebra'), 10 of another; ANALYZE reads them."""
    for n in range(40):
        ContactFactory(tenant=tenant, email=f"p{n}@example.com", company="Acme Corp",
                       last_name="Zebra" if n % 10 == 0 else f"Name{n}")  # fmt: skip
    for n in range(10):
        ContactFactory(tenant=tenant, email=f"q{n}@globex.org", company=f"Globex {n}", last_name=f"Q{n}")
    ContactFactory(tenant=other_tenant, email="x@example.com", company="Acme Corp", last_name="Zebra")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")  # inside the test's transaction: sees its rows
    search.forget_sample()
    yield
    search.forget_sample()


@pytest.mark.django_db
def test_a_word_most_contacts_hold_is_common_and_a_rare_one_is_not(analysed):
    assert search.word_fraction("ACME") == pytest.approx(41 / 51, abs=0.01)
    assert search.word_fraction("NOBODYHASTHIS") == 0
    assert search.common_words(["acme", "Zebra", "q3@"]) == {"ACME"}
    with override_settings(SEARCH_COMMON_WORD_FRACTION=0):
        assert search.common_words(["acme"]) == set()


@pytest.mark.django_db
def test_search_with_a_common_word_finds_the_same_contacts_and_leaves_it_out_of_the_index(api, analysed):
    def found(text):
        with CaptureQueriesContext(connection) as captured:
            body = api.get(LIST, {"search": text, "page_size": 100}).json()
        sql = "\n".join(q["sql"] for q in captured.captured_queries if "contact_search_text" in q["sql"])
        return body["count"], sorted(r["email"] for r in body["results"]), sql

    count, emails, sql = found("acme zebra")
    assert (count, emails) == (4, ["p0@example.com", "p10@example.com", "p20@example.com", "p30@example.com"])
    assert "|| '')::text LIKE '%' || REPLACE(REPLACE(REPLACE((UPPER('acme'))" in sql  # not indexable
    assert "\"company\")::text LIKE '%' || REPLACE(REPLACE(REPLACE((UPPER('zebra'))" in sql  # the index

    count, emails, _ = found("ACME")
    assert count == 40 and len(emails) == 40  # the other tenant's Acme contact is not here
    count, emails, _ = found("corp globex")
    assert count == 0 and emails == []
    with override_settings(SEARCH_COMMON_WORD_FRACTION=0):  # every word through the index: same answer
        count, emails, sql = found("acme zebra")
    assert (count, len(emails)) == (4, 4) and "|| '')" not in sql

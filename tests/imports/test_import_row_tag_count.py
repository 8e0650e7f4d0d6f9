"""The per-row tag limit of an import counts tags as the database tells them apart: "ΟΔΟΣ" and
"οδος" are two tags (found by a review; str.lower made them one, and a row of 51 tags passed the
limit of 50, which promises "refused, never cut silently")."""

import pytest

from contacts_service.names import db_name_keys
from imports.rows import MAX_TAGS_PER_ROW, RowParser


@pytest.mark.django_db
def test_a_row_with_more_distinct_database_tags_than_the_limit_is_refused():
    names = ["ΟΔΟΣ", "οδος", *(f"t{n}" for n in range(MAX_TAGS_PER_ROW - 1))]
    assert len(set(db_name_keys(names))) == MAX_TAGS_PER_ROW + 1  # 51 tags once created

    parser = RowParser(["email", "tags"], {"email": "email", "tags": "tags"}, {})
    row = parser.parse(1, ["a@example.com", ";".join(names)])

    assert [e["field"] for e in row.errors] == ["tags"], (row.errors, len(row.tags))

"""The admin import (django-import-export) reads a file as the API import does. Found by a bug hunt
where the two differed: a national phone of a matched contact, blank rows, columns with no name and
a row with more cells than the header."""

import pytest

from contacts.models import Contact
from tests.factories import ContactFactory
from tests.imports.test_admin_import_export import confirm, upload


def _import(client, tenant, content: str) -> list[str]:
    """Upload, check the preview has no error, confirm; returns each row's kind in the preview."""
    preview = upload(client, tenant, content)
    result = preview.context["result"]
    assert not result.base_errors, [str(e.error) for e in result.base_errors]
    assert not result.invalid_rows, {r.number: r.error_dict for r in result.invalid_rows}
    confirm(client, preview)
    return [row.import_type for row in result.rows]


@pytest.mark.django_db
def test_a_national_phone_is_read_in_the_country_of_the_contact_the_row_matches(operator_client, tenant):
    ContactFactory(tenant=tenant, email="ann@example.com", country="FR", phone=None)

    assert _import(operator_client, tenant, "email,phone\nann@example.com,06 12 34 56 78\n") == ["update"]
    assert Contact.objects.unscoped().get(email="ann@example.com").phone == "+33612345678"


@pytest.mark.django_db
def test_a_national_phone_of_a_new_contact_still_needs_a_country(operator_client, tenant):
    preview = upload(operator_client, tenant, "email,phone\nnew@example.com,06 12 34 56 78\n")
    [row] = preview.context["result"].invalid_rows
    assert list(row.error_dict) == ["phone"]


@pytest.mark.django_db
def test_blank_rows_are_skipped_as_the_api_import_skips_them(operator_client, tenant):
    content = "email,first_name\na@example.com,A\n,\n  ,  \nb@example.com,B\n"
    assert _import(operator_client, tenant, content) == ["new", "skip", "skip", "new"]
    assert sorted(Contact.objects.unscoped().values_list("email", flat=True)) == [
        "a@example.com",
        "b@example.com",
    ]


@pytest.mark.django_db
def test_columns_with_no_name_are_ignored(operator_client, tenant):
    assert _import(operator_client, tenant, "email,,first_name,\na@example.com,x,Ann,y\n") == ["new"]
    assert Contact.objects.unscoped().get(email="a@example.com").first_name == "Ann"


@pytest.mark.django_db
def test_a_row_with_more_cells_than_the_header_is_that_rows_error(operator_client, tenant):
    preview = upload(
        operator_client, tenant, "email,first_name\na@example.com,Ann\nb@example.com,Bob,extra\n"
    )

    result = preview.context["result"]
    assert not result.base_errors, [str(e.error) for e in result.base_errors]
    [row] = result.invalid_rows
    assert row.number == 2
    assert row.error_dict == {"row": ["3 columns where the header has 2."]}
    assert Contact.objects.unscoped().count() == 0

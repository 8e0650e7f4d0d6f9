"""The admin import reads a file whose lines end in a bare CR (Excel for Mac's "CSV") as
django-import-export's CSV (tablib) and the API import do: newline="" (found by a review; the admin
refused it with "new-line character seen in unquoted field")."""

import pytest
from import_export.formats.base_formats import CSV

from contacts.models import Contact
from imports.resources import ContactCSV
from tests.imports.test_admin_import_export import confirm, upload

CR_FILE = b"email,first_name\rann@example.com,Ann\rbob@example.com,Bob\r"


def test_contact_csv_reads_a_cr_only_file_as_import_export_csv_does():
    expected = CSV(encoding="utf-8-sig").create_dataset(CR_FILE)
    assert (expected.headers, expected.height) == (["email", "first_name"], 2)

    dataset = ContactCSV(encoding="utf-8-sig").create_dataset(CR_FILE)

    assert dataset.headers == expected.headers
    assert [list(row) for row in dataset] == [list(row) for row in expected]


@pytest.mark.django_db
def test_admin_import_of_a_cr_only_file(operator_client, tenant):
    preview = upload(operator_client, tenant, CR_FILE.decode())

    assert preview.context.get("result") is not None, preview.context["form"].errors
    confirm(operator_client, preview)
    assert sorted(Contact.objects.unscoped().values_list("email", flat=True)) == [
        "ann@example.com",
        "bob@example.com",
    ]

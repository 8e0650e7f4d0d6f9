"""The tags / lists cell: "the names, sorted, joined with '; '" (docs/api.md, Exports, The file);
the COPY writer (PostgreSQL) and the portable writer "write the same bytes"; the admin export
writes what the API export writes (imports/resources.py)."""

import io

import pytest

from imports.exports import export_write
from tests.factories import ContactFactory
from tests.imports.test_admin_import_export import ALL_COLUMNS, EXPORT, export_rows
from tests.imports.test_export import EXPORTS, add_to_list, detail_url, fetch, tag

pytestmark = pytest.mark.django_db


def _write(tenant, columns, use_copy):
    out = io.BytesIO()
    export_write(tenant=tenant, filters={}, columns=columns, out=out, use_copy=use_copy)
    return out.getvalue().decode()


@pytest.mark.parametrize("names", [("İstanbul", "Izmir"), ("ΑΣ", "αςz")])
def test_copy_and_portable_writers_sort_tag_names_the_same(tenant, names):
    contact = ContactFactory(tenant=tenant, email="a@example.com")
    tag(tenant, [contact], *names)

    assert _write(tenant, ["email", "tags"], use_copy=True) == _write(
        tenant, ["email", "tags"], use_copy=False
    )


def test_copy_and_portable_writers_sort_list_names_the_same(tenant):
    contact = ContactFactory(tenant=tenant, email="a@example.com")
    add_to_list(tenant, [contact], "İstanbul")
    add_to_list(tenant, [contact], "Izmir")

    assert _write(tenant, ["email", "lists"], use_copy=True) == _write(
        tenant, ["email", "lists"], use_copy=False
    )


def test_api_export_and_admin_export_give_the_same_tags_cell(
    api,
    operator_client,
    tenant,
    django_capture_on_commit_callbacks,
):
    contact = ContactFactory(tenant=tenant, email="a@example.com")
    tag(tenant, [contact], "İstanbul", "Izmir")
    admin = export_rows(
        operator_client.post(EXPORT, {"tenant": str(tenant.pk), "format": "0", **ALL_COLUMNS})
    )
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(EXPORTS, {"columns": ["email", "tags"]}, format="json")
    assert created.status_code == 201, created.json()
    job = api.get(detail_url(created.json()["id"])).json()
    response, body = fetch(api, job["download_url"])
    assert response.status_code == 200

    api_cell = body.decode().splitlines()[1].split(",", 1)[1]
    assert api_cell == admin[0]["tags"]  # now: API "İstanbul; Izmir", admin "Izmir; İstanbul"

"""Admin export (django-import-export): one tenant, cells neutralised and written as the API export."""

import io

import pytest

from imports.exports import export_write
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.imports.test_admin_import_export import ALL_COLUMNS, EXPORT, export_rows
from tests.imports.test_export import tag

pytestmark = pytest.mark.django_db


def test_admin_export_neutralises_names_and_attribute_values(operator_client, tenant, other_tenant):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="note")
    c = ContactFactory(
        tenant=tenant, email="a@x.example", phone="+33612345678", attributes={"score": -3, "note": "\rcmd"}
    )
    tag(tenant, [c], "=evil", "zed")
    ContactFactory(tenant=other_tenant, email="b@x.example")
    rows = export_rows(operator_client.post(EXPORT, {"tenant": str(tenant.pk), "format": "0", **ALL_COLUMNS}))
    assert [r["email"] for r in rows] == ["a@x.example"]
    row = rows[0]
    assert (row["phone"], row["tags"], row["attributes.score"], row["attributes.note"]) == (
        "'+33612345678",
        "'=evil; zed",
        "'-3",
        "'\rcmd",
    )


def test_admin_export_writes_numbers_as_the_api_export(operator_client, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    for n, v in enumerate([1e-7, 1e20, 2.5e-5]):
        ContactFactory(tenant=tenant, email=f"c{n}@x.example", attributes={"score": v})
    rows = export_rows(operator_client.post(EXPORT, {"tenant": str(tenant.pk), "format": "0", **ALL_COLUMNS}))
    admin = [r["attributes.score"] for r in rows]
    out = io.BytesIO()
    export_write(tenant=tenant, filters={}, columns=["attributes.score"], out=out)
    api = out.getvalue().decode().splitlines()[1:]
    assert admin == api

"""docs/api.md (Exports, How it runs): COPY on PostgreSQL and the portable writer (the embedded
SQLite default) write the same bytes."""

import io

import pytest

from imports.exports import export_write


@pytest.mark.django_db
def test_copy_and_portable_writer_give_the_same_bytes_for_number_attributes(api, tenant):
    api.post(
        "/api/v1/attribute-definitions/", {"key": "score", "label": "S", "type": "number"}, format="json"
    )
    for n, score in enumerate([1e-7, 0.1, 12, -5, 2.5e-5, 123456789.125, 1e20, 1.5e300, -0.5]):
        r = api.post(
            "/api/v1/contacts/", {"email": f"c{n}@x.example", "attributes": {"score": score}}, format="json"
        )
        assert r.status_code == 201, r.content
    columns = ["email", "attributes.score"]
    copy, portable = io.BytesIO(), io.BytesIO()
    export_write(tenant=tenant, filters={}, columns=columns, out=copy, use_copy=True)
    export_write(tenant=tenant, filters={}, columns=columns, out=portable, use_copy=False)
    assert copy.getvalue().decode() == portable.getvalue().decode()

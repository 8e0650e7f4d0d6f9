"""Query parameters are documented in the form the endpoint reads them, with their bounds and whether
they may be sent empty. Found by a schema-versus-responses hunt."""

import pytest

from tests.contract.strict import parameter

P = "/api/v1"


@pytest.mark.django_db
def test_ordering_as_the_schema_documents_it_orders_by_every_value(api):
    """GET /contacts/ `ordering` is documented as `type: array` (query, default style form/explode:
    `?ordering=email&ordering=-created_at`), from django-filter's OrderingFilter in contacts/filters.py.
    The filter reads one comma-separated value (QueryDict.get: the last repetition). Expected: the
    repeated form the schema documents orders by email first. Actual: every value but the last is ignored
    (the page comes by -created_at); only `?ordering=email,-created_at`, which the schema does not
    describe, works."""
    assert parameter("/api/v1/contacts/", "get", "ordering")["schema"]["type"] == "array"
    for email in ("a@x.example", "b@x.example", "c@x.example"):
        assert api.post(f"{P}/contacts/", {"email": email}, format="json").status_code == 201

    comma = api.get(f"{P}/contacts/?ordering=email,-created_at").json()["results"]
    repeated = api.get(f"{P}/contacts/?ordering=email&ordering=-created_at").json()["results"]

    assert [c["email"] for c in comma] == ["a@x.example", "b@x.example", "c@x.example"]
    assert [c["email"] for c in repeated] == ["a@x.example", "b@x.example", "c@x.example"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["0", "101"])
def test_page_size_bounds_are_in_the_schema(api, value):
    """docs/api.md (Paging, Limits): `page_size` 1-100, "A page_size out of range is a 400, not clamped".
    Expected: the `page_size` parameter's schema has minimum 1 and maximum 100 (API_MAX_PAGE_SIZE).
    Actual: `{"type": "integer"}` (contacts_service/pagination.py PageNumberPagination
    get_schema_operation_parameters), so 0 and 101 are schema-valid and answered 400."""
    response = api.get(f"{P}/contacts/?page_size={value}")
    assert response.status_code == 400 and response.json()["errors"][0]["field"] == "page_size"

    schema = parameter("/api/v1/contacts/", "get", "page_size")["schema"]
    assert schema.get("minimum") == 1 and schema.get("maximum") == 100, schema


EMPTY_SKIPPED = [
    ("/api/v1/contacts/{id}/timeline/", "type", "timeline/?type="),
    ("/api/v1/contacts/{id}/timeline/", "activity_type", "timeline/?activity_type="),
    ("/api/v1/contacts/{id}/timeline/", "occurred_after", "timeline/?occurred_after="),
    ("/api/v1/contacts/{id}/timeline/", "occurred_before", "timeline/?occurred_before="),
    ("/api/v1/contacts/{contact_pk}/activities/", "type", "activities/?type="),
    ("/api/v1/contacts/{id}/history/", "cursor", "history/?cursor="),
]


@pytest.mark.django_db
@pytest.mark.parametrize("template,name,query", EMPTY_SKIPPED, ids=[f"{t} {n}" for t, n, _ in EMPTY_SKIPPED])
def test_a_parameter_taken_empty_says_allow_empty_value(api, template, name, query):
    """docs/api.md (Errors): "An empty filter in a query string (`?city=`) is skipped, as an HTML form
    sends it (`allowEmptyValue` in the schema)"; (Paging): "`?cursor=` (no value: the first page)".
    contacts_service/schema.py AutoSchema._get_filter_parameters sets allowEmptyValue on filterset
    parameters only; the timeline's and activities' filters (extend_schema OpenApiParameter in
    contacts/api.py, events/api.py) and every `cursor` (pagination.py) lack it. Expected: allowEmptyValue:
    true on a parameter the endpoint takes empty. Actual: the empty value is answered 200 but the schema
    forbids it (a schema-driven client or validator refuses to send `?cursor=`)."""
    contact = api.post(f"{P}/contacts/", {"email": "a@x.example"}, format="json").json()

    response = api.get(f"{P}/contacts/{contact['id']}/{query}")

    assert response.status_code == 200, response.content
    assert parameter(template, "get", name).get("allowEmptyValue") is True, parameter(template, "get", name)

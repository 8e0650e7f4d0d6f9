"""The OpenAPI document (/api/schema/) says what the API does, where a client generated from it would
otherwise get it wrong: GDPR export sections, merged-contact 404s of merges, `page=last`, the paging
parameters of a POST that pages, PATCH bodies, rate-limit headers, blank emails of shares."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from contacts_service import services
from contacts_service.roles import Role
from tests.contract.strict import component, errors_of, operation, parameter, request_errors

P = "/api/v1"


def _contact(api, **body) -> dict:
    response = api.post(f"{P}/contacts/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _plans(**limits):
    base = {"tenant": 1_000, "api_key": 1_000, "user": 1_000, "expensive": 1_000}
    return {plan: {**base, **limits} for plan in ("free", "standard", "enterprise")}


# -- Response bodies --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_gdpr_export_duplicates_section_is_in_the_schema(api):
    """GET /contacts/{id}/export/ always has the `duplicates` section (docs/api.md, GDPR: export), and
    the ContactExport component documents it: a generated client keeps it, a strict validator accepts
    the answer."""
    contact = _contact(api, email="ann@x.example", first_name="Ann")

    response = api.get(f"{P}/contacts/{contact['id']}/export/")

    assert response.status_code == 200
    assert "duplicates" in response.json()
    assert "duplicates" in component("ContactExport")["properties"], errors_of(
        response, "/api/v1/contacts/{id}/export/", "get"
    )


# -- 404 of a merged contact ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("suffix", ["merge/", "merge/preview/"])
def test_merge_with_a_merged_primary_404_says_where_it_went(api, suffix):
    """POST /contacts/{id}/merge/ and /merge/preview/ with a merged contact as primary answer the 404 of
    every path under a merged contact (docs/api.md, Errors): with `merge_id` and `primary_id`, so a client
    can follow the contact to where it went."""
    primary = _contact(api, email="p@x.example")
    merged = _contact(api, email="m@x.example")
    third = _contact(api, email="t@x.example")
    done = api.post(f"{P}/contacts/{primary['id']}/merge/", {"others": [merged["id"]]}, format="json")
    assert done.status_code == 201
    # The contact's own URL says where it went:
    assert api.get(f"{P}/contacts/{merged['id']}/").json()["primary_id"] == primary["id"]

    response = api.post(f"{P}/contacts/{merged['id']}/{suffix}", {"others": [third["id"]]}, format="json")

    assert response.status_code == 404, response.content
    body = response.json()
    assert (body.get("merge_id"), body.get("primary_id")) == (done.json()["merge_id"], primary["id"]), body


# -- Query parameters -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_page_last_is_a_value_the_schema_allows(api):
    """`?page=last` is the last page while the count is exact (docs/api.md, Paging), and the `page`
    parameter's schema allows it beside a number from 1: a generated client can send it."""
    for email in ("a@x.example", "b@x.example"):
        _contact(api, email=email)

    response = api.get(f"{P}/contacts/?page=last&page_size=1")

    assert response.status_code == 200, response.content
    assert response.json()["previous"] is not None  # really the last page
    schema = parameter("/api/v1/contacts/", "get", "page")["schema"]
    assert schema.get("type") != "integer" or "last" in str(schema), schema


@pytest.mark.django_db
def test_segment_preview_paging_parameters_keep_their_bounds_and_empty_cursor(api):
    """POST /lists/preview/ pages as every list (docs/api.md, Lists) and its paging parameters say so as
    on every GET list: page_size from 1 to 100 (`?page_size=0` is a 400), and `?cursor=` (the start of
    keyset paging) allowed empty."""
    rules = {"rules": {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Lyon"}]}}
    assert api.post(f"{P}/lists/preview/?page_size=0", rules, format="json").status_code == 400
    assert api.post(f"{P}/lists/preview/?cursor=", rules, format="json").status_code == 200

    page_size = parameter("/api/v1/lists/preview/", "post", "page_size")
    cursor = parameter("/api/v1/lists/preview/", "post", "cursor")
    assert (page_size["schema"].get("minimum"), page_size["schema"].get("maximum")) == (1, 100), page_size
    assert cursor.get("allowEmptyValue") is True, cursor


# -- Request bodies ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_contact_patch_schema_does_not_offer_allow_erased(api):
    """`allow_erased` is create only (docs/api.md, Tombstone): PATCH /contacts/{id}/ answers it with a
    400 naming it, and the PATCH body's schema does not offer it."""
    contact = _contact(api, email="a@x.example")

    response = api.patch(f"{P}/contacts/{contact['id']}/", {"allow_erased": True}, format="json")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["allow_erased"]
    assert request_errors({"allow_erased": True}, "/api/v1/contacts/{id}/", "patch"), (
        "PATCH /contacts/{id}/ schema accepts allow_erased"
    )


# -- Headers ----------------------------------------------------------------------------------------


def _documented_headers(path: str, method: str, status: int) -> set[str]:
    response = operation(path, method)["responses"][str(status)]
    return {name.lower() for name in response.get("headers", {})}


@pytest.mark.django_db
def test_retry_after_of_a_429_is_in_the_schema(tenant):
    """A 429 carries Retry-After (docs/api.md, Rate limits), and the schema's 429 declares it."""
    key = services.apikey_create(tenant=tenant, name="rl", role=Role.OWNER).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    with override_settings(RATE_LIMIT_PLANS=_plans(api_key=1)):
        assert client.get(f"{P}/me/").status_code == 200
        refused = client.get(f"{P}/me/")

    assert refused.status_code == 429 and refused.headers.get("Retry-After")
    assert "retry-after" in _documented_headers("/api/v1/me/", "get", 429)


@pytest.mark.django_db
def test_rate_limit_headers_of_a_counted_answer_are_in_the_schema(api):
    """Every counted answer carries the X-RateLimit-* headers (docs/api.md, Rate limits), and the schema
    declares them (here on the 200 of GET /me/), so generated clients can pace themselves on them; a 403
    (refused before counting) declares none."""
    response = api.get(f"{P}/me/")

    sent = {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-scope"}
    assert sent <= {name.lower() for name in response.headers}
    assert sent <= _documented_headers("/api/v1/me/", "get", 200), sorted(
        sent - _documented_headers("/api/v1/me/", "get", 200)
    )
    assert not _documented_headers("/api/v1/me/", "get", 403)


@pytest.mark.django_db
def test_share_with_a_member_without_email_fits_the_share_schema(api, tenant):
    """A member whose token's email is not verified has a blank email (docs/api.md, Authentication) and
    can be shared a list: the share answers `"email": ""`, and the ListShare component allows it (a text,
    not `format: email`)."""
    import jsonschema

    from tests.factories import MembershipFactory, UserFactory

    member = UserFactory(email="", auth_subject="sub-unverified")
    MembershipFactory(tenant=tenant, user=member, role=Role.CONTACTS_VIEWER)
    listing = api.post(f"{P}/lists/", {"name": "News"}, format="json").json()

    response = api.post(f"{P}/lists/{listing['id']}/shares/", {"user_id": str(member.pk)}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["email"] == ""
    schema = component("ListShare")
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
    problems = [e.message for e in validator.iter_errors(response.json())]
    assert not problems, (problems, schema["properties"]["email"])

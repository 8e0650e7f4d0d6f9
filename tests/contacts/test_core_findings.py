"""Bug hunt in the core contacts, tags and lists API (scratch: failing tests asserting what a user
should see). Each test names the cause it points at."""

import pytest
from django.urls import reverse

from contacts.models import Contact
from tags.models import TagAssignment
from tests.factories import ContactFactory

CONTACTS = reverse("contact-list")
TAGS = reverse("tag-list")
LISTS = reverse("list-list")


def _tag(api, name="Target") -> str:
    response = api.post(TAGS, {"name": name}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


def _list(api, name="L") -> str:
    response = api.post(LISTS, {"name": name}, format="json")
    assert response.status_code == 201, response.content
    return response.json()["id"]


# --- 1. A bulk `filter` refused by a filter method names the bare parameter, not filter.<name> ------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("flt", "field"),
    [
        ({"consent": "email:nope:granted"}, "filter.consent"),
        ({"search": "a b c d e f g h i"}, "filter.search"),
        ({"tags": ",".join(f"t{n}" for n in range(51))}, "filter.tags"),
        ({"attribute": "undefined:1"}, "filter.attribute"),
    ],
)
def test_bulk_filter_value_refused_by_the_contacts_list_is_400_on_filter_dot_name(api, tenant, flt, field):
    """docs/api.md, Selections: a bad filter value is "a 400 on filter.<name>" (as filter.status,
    filter.created_after, filter.list are, and as exports name filters.<name>). Values refused inside
    a ContactFilter method (consent, search, tags, attribute) come back as `consent`, `search`, ...:
    contacts/selectors.py contact_selection returns filterset.qs without catching the DRF
    ValidationError those methods raise (imports/exports.py:123 does, with flatten_errors)."""
    ContactFactory(tenant=tenant)
    tag_id = _tag(api)
    list_id = _list(api)
    for url in (
        reverse("tag-apply", kwargs={"pk": tag_id}),
        reverse("tag-remove", kwargs={"pk": tag_id}),
        reverse("list-contacts", kwargs={"pk": list_id}),
    ):
        response = api.post(url, {"filter": flt}, format="json")
        assert response.status_code == 400, response.content
        assert [e["field"] for e in response.json()["errors"]] == [field], (url, response.json())
    assert not TagAssignment.objects.unscoped().exists()


# --- 2. An email whose punycode decodes to a lone surrogate was a 500 ------------------------------------

SURROGATE_EMAIL = "ann@xn--a-rc4g.de"  # "xn--a-rc4g" decodes (Python's punycode codec) to "a\ud800"


@pytest.mark.django_db
def test_an_email_whose_punycode_decodes_to_a_surrogate_is_kept_as_written_not_a_500(api, tenant):
    """POST and PATCH were 500s: canonical_email decoded the label to 'a\ud800', which no database can
    store. Such a label is no valid punycode: kept as written, as any other (test_email_spellings)."""
    api.raise_request_exception = False
    response = api.post(CONTACTS, {"email": SURROGATE_EMAIL}, format="json")
    assert response.status_code == 201, response.content[:300]
    assert response.json()["email"] == SURROGATE_EMAIL
    contact = ContactFactory(tenant=tenant, email="bob@example.com")
    response = api.patch(
        reverse("contact-detail", kwargs={"pk": contact.pk}), {"email": "bob@xn--a-rc4g.de"}, format="json"
    )
    assert response.status_code == 200, response.content[:300]
    contact.refresh_from_db()
    assert contact.email == "bob@xn--a-rc4g.de"


@pytest.mark.django_db
def test_email_filter_with_such_a_spelling_finds_nobody_instead_of_a_500(api, tenant):
    """GET /contacts/?email= and a bulk selection {"filter": {"email": ...}}: contacts/filters.py
    filter_email passes canonical_email(value) to the query unchecked."""
    ContactFactory(tenant=tenant, email="ann@example.com")
    tag_id = _tag(api)
    api.raise_request_exception = False
    listed = api.get(CONTACTS, {"email": SURROGATE_EMAIL})
    assert listed.status_code in (200, 400), listed.content[:300]
    if listed.status_code == 200:
        assert listed.json()["count"] == 0
    bulk = api.post(
        reverse("tag-apply", kwargs={"pk": tag_id}), {"filter": {"email": SURROGATE_EMAIL}}, format="json"
    )
    assert bulk.status_code in (200, 400), bulk.content[:300]
    if bulk.status_code == 200:
        assert bulk.json() == {"changed": 0}


# --- 3. ?status= (empty) is a 400, where every empty filter is skipped ------------------------------


@pytest.mark.django_db
def test_an_empty_status_filter_is_skipped_like_every_empty_filter(api, tenant):
    """docs/api.md, Errors: "An empty filter in a query string (?city=) is skipped, as an HTML form
    sends it (allowEmptyValue in the schema)", and the schema marks `status` allowEmptyValue. A form
    whose status select is left on "any" sends status= and gets a 400 invalid_choice: the
    MultipleChoiceFilter (contacts/filters.py:23) validates "" as a choice instead of dropping it."""
    ContactFactory(tenant=tenant, status="active")
    ContactFactory(tenant=tenant, status="blocked")
    response = api.get(CONTACTS, {"status": "", "city": ""})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 2
    # the empty one among real values is skipped too
    response = api.get(CONTACTS + "?status=&status=blocked")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 1


# --- 4. A foreign cursor (another endpoint's, another tenant's) is taken, not a 400 ---------------------


@pytest.mark.django_db
def test_a_cursor_of_another_endpoint_is_a_400_naming_cursor(api, tenant):
    """docs/api.md, Paging: "an altered, foreign or malformed cursor is a 400 naming cursor". The signer
    is salted with the ordering only (contacts_service/pagination.py _signer, line ~253), so the
    next_cursor of GET /tags/ (ordered by name, pk) is a valid position on GET /lists/ (same ordering),
    and silently skips the lists before that name."""
    for name in ("a", "b", "c"):
        _tag(api, name)
        _list(api, name)
    tags_cursor = api.get(TAGS, {"cursor": "", "page_size": 1}).json()["next_cursor"]
    assert tags_cursor
    response = api.get(LISTS, {"cursor": tags_cursor, "page_size": 1})
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["field"] == "cursor"


@pytest.mark.django_db
def test_a_cursor_of_another_tenant_is_a_400_naming_cursor(api, tenant, client_for, other_tenant):
    other = client_for(other_tenant)
    for _ in range(3):
        ContactFactory(tenant=other_tenant)
        ContactFactory(tenant=tenant)
    foreign = other.get(CONTACTS, {"cursor": "", "page_size": 1}).json()["next_cursor"]
    assert foreign
    response = api.get(CONTACTS, {"cursor": foreign, "page_size": 1})
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["field"] == "cursor"


# --- 5. The OpenAPI schema of POST /lists/preview/ has no paging parameters -----------------------------


@pytest.mark.django_db
def test_segment_preview_schema_documents_its_paging_parameters(api, tenant):
    """docs/api.md: preview answers "{count, ..., next_cursor, results} of matching contacts (paged as
    every list)", and the endpoint does take ?page, ?page_size and ?cursor; the schema (which "documents
    every endpoint, parameter") lists none of them for POST /api/v1/lists/preview/ (lists/api.py
    preview: a POST action, so drf-spectacular adds no pagination parameters)."""
    ContactFactory(tenant=tenant, country="FR")
    ContactFactory(tenant=tenant, country="FR")
    rules = {"rules": {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]}}
    paged = api.post(reverse("list-preview") + "?page_size=1", rules, format="json")
    assert paged.status_code == 200 and len(paged.json()["results"]) == 1  # behaviour: it pages
    schema = api.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/lists/preview/"]["post"]
    names = {p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"}
    assert {"page", "page_size", "cursor"} <= names, names


# --- 6. Invisible characters in an email's domain make a second address for one mailbox ---------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "spelling",
    ["ann@exam\u00adple.com", "ann@exam\u200bple.com", "ann@example.com\u200b"],
    ids=["soft-hyphen", "zero-width-space", "trailing-zero-width-space"],
)
def test_an_email_domain_with_an_invisible_character_is_the_same_address(api, tenant, spelling):
    """docs/api.md, Fields: "Every spelling of one mailbox is then one address for uniqueness, ?email=,
    ...". IDNA maps a soft hyphen and zero-width characters in a domain to nothing (nameprep and UTS #46
    alike), so ann@exam<SHY>ple.com is ann@example.com's mailbox; canonical_email
    (contacts/normalization.py:92-107) applies only NFKC and the ideographic dots, and validate_email
    accepts the spelling, so a second contact is created for the same mailbox (a pasted trailing
    U+200B is enough)."""
    first = api.post(CONTACTS, {"email": "ann@example.com"}, format="json")
    assert first.status_code == 201
    response = api.post(CONTACTS, {"email": spelling}, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["code"] == "unique"
    assert Contact.objects.unscoped().filter(tenant=tenant).count() == 1

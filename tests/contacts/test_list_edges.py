"""Paging, search and tag / attribute filters of the contacts list at their edges."""

import pytest
from django.urls import reverse

from tags.models import Tag, TagAssignment
from tests.factories import AttributeDefinitionFactory, ContactFactory

LIST = reverse("contact-list")


@pytest.mark.django_db
def test_page_last_returns_the_last_page_when_the_count_is_exact(api, tenant):
    """docs/api.md Paging: `page=last` is a 400 only when the count is an estimate; with an exact
    count (5 contacts) it is the last page (it was a 404 "Invalid page")."""
    for n in range(5):
        ContactFactory(tenant=tenant, email=f"last{n}@example.com")
    response = api.get(LIST, {"page": "last", "page_size": 2})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 5
    assert len(body["results"]) == 1  # page 3 of 2+2+1


@pytest.mark.django_db
def test_search_refuses_more_than_eight_words_rather_than_drop_some(api, tenant):
    """Every word must match: a ninth word was dropped, widening the answer."""
    ContactFactory(tenant=tenant, email="ann@example.com", first_name="Ann", last_name="Lee",
                   display_name="Ann Lee", company="Acme")  # fmt: skip
    response = api.get(LIST, {"search": "a b c d e f g h zzzqqq"})
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == [
        {"field": "search", "code": "invalid", "message": "At most 8 different words."}
    ]
    repeated = api.get(LIST, {"search": "ann ann ann ann ann ann ann ann lee"})  # two different words
    assert [r["email"] for r in repeated.json()["results"]] == ["ann@example.com"]
    assert api.get(LIST, {"search": "ann ann ann ann ann ann ann ann zzzqqq"}).json()["count"] == 0


@pytest.mark.django_db
def test_tags_all_naming_one_tag_by_name_and_by_id_still_matches_its_holders(api, tenant):
    """tags_all accepts names or ids; naming the same tag twice (its name and its id) still selects
    its holders; an unknown one among them selects nobody."""
    contact = ContactFactory(tenant=tenant, email="vip@example.com")
    tag = Tag.objects.for_tenant(tenant).create(tenant=tenant, name="VIP")
    TagAssignment.objects.for_tenant(tenant).create(tenant=tenant, tag=tag, contact=contact)
    assert api.get(LIST, {"tags_all": "VIP"}).json()["count"] == 1
    assert api.get(LIST, {"tags_all": str(tag.pk)}).json()["count"] == 1
    response = api.get(LIST, {"tags_all": f"VIP,{tag.pk}"})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [str(contact.pk)]
    assert api.get(LIST, {"tags_all": "  vip ,VIP"}).json()["count"] == 1
    assert api.get(LIST, {"tags_all": "VIP,Nobody"}).json()["count"] == 0


@pytest.mark.django_db
def test_attribute_filter_finds_a_large_float_the_api_accepted(api, tenant):
    """A number attribute accepts 1e20 on write (only integers are bounded by 2^53); the filter
    reads score:1e20 as that float, not as an integer past the bound (which it refused)."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    created = api.post(LIST, data={"email": "big@example.com", "attributes": {"score": 1e20}}, format="json")
    assert created.status_code == 201, created.content
    response = api.get(LIST, {"attribute": "score:1e20"})
    assert response.status_code == 200, response.content
    assert [r["id"] for r in response.json()["results"]] == [created.json()["id"]]


@pytest.mark.django_db
def test_page_last_on_the_timeline_too(api, tenant):
    """page=last on every list endpoint (here the timeline of a contact)."""
    created = api.post(LIST, data={"email": "tl@example.com"}, format="json").json()
    detail = reverse("contact-detail", args=[created["id"]])
    for n in range(3):
        api.patch(detail, data={"city": f"C{n}"}, format="json")
    response = api.get(f"/api/v1/contacts/{created['id']}/timeline/", {"page": "last", "page_size": 3})
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 4 and len(response.json()["results"]) == 1


@pytest.mark.django_db
def test_attribute_filter_reads_an_integer_exactly(api, tenant):
    """Found by a bug hunt: score:9007199254740993 (2^53 + 1) was read through a float, became 2^53,
    and found the contact whose score is 2^53. No stored number equals 2^53 + 1 (an integer past
    2^53 is refused on write; a float cannot hold it), so the answer is nobody, whichever way it is
    written. Large numbers a float holds exactly still find their contact."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    at_bound = api.post(LIST, data={"email": "b@example.com", "attributes": {"score": 2**53}}, format="json")
    assert at_bound.status_code == 201, at_bound.content
    big = api.post(LIST, data={"email": "f@example.com", "attributes": {"score": 1e20}}, format="json")
    assert big.status_code == 201, big.content

    def found(value):
        response = api.get(LIST, {"attribute": f"score:{value}"})
        assert response.status_code == 200, (value, response.content)
        return [r["email"] for r in response.json()["results"]]

    for value in ("9007199254740993", "9007199254740993.0", "90071992547409930e-1", "-9007199254740993"):
        assert found(value) == [], value
    for value in ("9007199254740992", "9007199254740992.0", "9.007199254740992e15"):
        assert found(value) == ["b@example.com"], value
    assert found("100000000000000000000") == ["f@example.com"]
    for value in ("1_000", "nan", "inf", "1e400", "0x10", "1" * 400):
        response = api.get(LIST, {"attribute": f"score:{value}"})
        assert response.status_code == 400, (value, response.content)
        assert response.json()["errors"][0]["field"] == "attribute"

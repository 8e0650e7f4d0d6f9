"""Tag names compared with Python's str.lower() on one side and PostgreSQL lower() on the other."""

import pytest
from django.urls import reverse

from tags.models import Tag

CONTACTS = reverse("contact-list")
LISTS = reverse("list-list")


def _tagged(api, name):
    contact = api.post(CONTACTS, {"email": f"x{abs(hash(name))}@example.com"}, format="json").json()
    r = api.post(reverse("contact-add-tags", kwargs={"pk": contact["id"]}), {"tags": [name]}, format="json")
    assert r.status_code in (200, 201), r.content
    return contact["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["İstanbul", "ΟΔΟΣ"])
def test_tags_filter_finds_tag_by_its_own_name(api, name):
    cid = _tagged(api, name)
    assert Tag.objects.unscoped().filter(name=name).exists()
    r = api.get(CONTACTS, {"tags": name})
    assert r.status_code == 200, r.content
    assert [c["id"] for c in r.json()["results"]] == [cid]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["İstanbul", "ΟΔΟΣ"])
def test_tags_all_filter_finds_tag_by_its_own_name(api, name):
    cid = _tagged(api, name)
    r = api.get(CONTACTS, {"tags_all": name})
    assert r.status_code == 200, r.content
    assert [c["id"] for c in r.json()["results"]] == [cid]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["İstanbul", "ΟΔΟΣ"])
def test_segment_rule_names_existing_tag(api, name):
    _tagged(api, name)
    body = {
        "name": "seg",
        "kind": "dynamic",
        "rules": {"operator": "and", "rules": [{"field": "tags", "op": "any", "value": [name]}]},
    }
    r = api.post(LISTS, body, format="json")
    assert r.status_code == 201, r.content

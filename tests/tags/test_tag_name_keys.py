"""Tag names: the service compares them as PostgreSQL's lower(name) does (the unique index, the
filters, the segment rules), everywhere. Found by a bug hunt: tagging, renaming and the rename of
segment rules keyed them by Python's str.lower(), which differs on a Turkish dotted capital I ("İ")
and a Greek final sigma ("ς")."""

import pytest
from django.urls import reverse

from lists.models import ContactList
from tags.models import Tag, TagAssignment
from tests.factories import ContactFactory
from tests.lists.segment_helpers import is_member, rule, segment, tag

TAGS = reverse("tag-list")


def tag_url(tag_id):
    return reverse("tag-detail", kwargs={"pk": tag_id})


def tag_id(name):
    return str(Tag.objects.unscoped().get(name=name).pk)


@pytest.mark.django_db
@pytest.mark.parametrize("first,second", [("ΟΔΟΣ", "οδος"), ("İ", "i̇")])
def test_tagging_a_contact_with_two_distinct_tags_applies_both(api, tenant, first, second):
    """docs/api.md, Tags: `POST /contacts/{id}/tags/` `{"tags": ["VIP", "Lead"]}` by name (any case);
    unknown names are created. Both tags exist as two distinct tags (the API created both with 201,
    since lower(name) differs), so naming both must put both on the contact.

    Actual: only the first is applied, the second is silently dropped (200, no error, no event):
    tags.services.tags_by_name de-duplicates the names with Python's name_key() (str.lower, which
    maps "ΟΔΟΣ" and "οδος" - or "İ" and "i̇" - to the same key) while the tags themselves are told
    apart by the database's lower()."""
    contact = ContactFactory(tenant=tenant)
    assert api.post(TAGS, {"name": first}, format="json").status_code == 201
    assert api.post(TAGS, {"name": second}, format="json").status_code == 201  # two distinct tags

    response = api.post(
        reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": [first, second]}, format="json"
    )

    assert response.status_code == 200, response.content
    assert sorted(t["name"] for t in response.json()["tags"]) == sorted([first, second])
    assert TagAssignment.objects.unscoped().filter(contact=contact).count() == 2


@pytest.mark.django_db
def test_renaming_a_tag_rewrites_a_rule_naming_it_in_another_case(api, tenant):
    """docs/api.md, segment rules: `tags` values are "tag names (must exist; any case, spaces
    collapsed); renaming a tag rewrites the rules naming it, so they keep following the tag".
    A rule naming tag "İstanbul" as "ISTANBUL" is accepted (lower() of both is "istanbul"), so the
    rename to "Ankara" must rewrite it.

    Actual: the rule keeps "ISTANBUL", which names no tag any more: the segment is frozen (a contact
    given the renamed tag never joins) and would follow the next tag called "Istanbul".
    lists.dynamic._renamed / segments_follow_tag_rename compare with Python's name_key() ("İ".lower()
    is "i̇", two characters), not the database's lower()."""
    first = ContactFactory(tenant=tenant)
    tag(api, first, "İstanbul")
    seg = segment(api, "Turkey", rule("tags", "any", ["ISTANBUL"]))  # accepted: any case
    assert is_member(first.pk, seg["id"])

    r = api.patch(tag_url(tag_id("İstanbul")), {"name": "Ankara"}, format="json")
    assert r.status_code == 200, r.content

    rules = ContactList.objects.unscoped().get(pk=seg["id"]).rules
    assert rules["rules"][0]["value"] == ["Ankara"], rules
    later = ContactFactory(tenant=tenant)
    tag(api, later, "Ankara")
    assert is_member(later.pk, seg["id"])  # the segment still follows the (renamed) tag


@pytest.mark.django_db
def test_renaming_a_tag_only_in_case_keeps_its_segments_following_it(api, tenant):
    """docs/api.md: renaming a tag rewrites the rules naming it, "so they keep following the tag".
    Renaming "ΟΔΟΣ" to "οδος" changes its database key (lower("ΟΔΟΣ") is "οδοσ", lower("οδος") is
    "οδος"), so a rule naming "ΟΔΟΣ" must be rewritten (or keep matching).

    Actual: tags.services.tag_update skips the rewrite because Python's name_key() says the two
    names are equal ("ΟΔΟΣ".lower() == "οδος"); the rule now names no tag, the segment is frozen
    and a contact given the tag never joins."""
    first = ContactFactory(tenant=tenant)
    tag(api, first, "ΟΔΟΣ")
    seg = segment(api, "Street", rule("tags", "any", ["ΟΔΟΣ"]))
    assert is_member(first.pk, seg["id"])

    r = api.patch(tag_url(tag_id("ΟΔΟΣ")), {"name": "οδος"}, format="json")
    assert r.status_code == 200, r.content

    later = ContactFactory(tenant=tenant)
    tag(api, later, "οδος")
    assert is_member(later.pk, seg["id"])
    # and the segment's rules still validate: editing them as they are is accepted
    rules = ContactList.objects.unscoped().get(pk=seg["id"]).rules
    r = api.patch(reverse("list-detail", kwargs={"pk": seg["id"]}), {"rules": rules}, format="json")
    assert r.status_code == 200, r.content

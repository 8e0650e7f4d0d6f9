"""Tag names the `tags` filters (GET /contacts/ and bulk selections) read as they are: a name with a
comma is refused (filters and imports separate names with commas), and a name shaped as an id is
found by name when no tag has that id."""

import uuid

import pytest
from django.urls import reverse

from contacts import services
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from tags.models import Tag, TagAssignment
from tests.factories import ContactFactory

TAGS = reverse("tag-list")
CONTACTS = reverse("contact-list")


def tag_contact(api, contact, names):
    r = api.post(reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": names}, format="json")
    assert r.status_code == 200, r.content


@pytest.mark.django_db
def test_a_tag_name_with_a_comma_is_refused_wherever_a_name_is_given(api, tenant):
    """ "Paris, France" would be read by `{"filter": {"tags": [...]}}` and `?tags=` as "Paris" and
    "France" (a bulk apply tagged the holders of "Paris"): creating, renaming and tagging by such a
    name are 400s naming the field, and nothing is written."""
    contact = ContactFactory(tenant=tenant)
    paris = api.post(TAGS, {"name": "Paris"}, format="json").json()

    created = api.post(TAGS, {"name": "Paris, France"}, format="json")
    renamed = api.patch(
        reverse("tag-detail", kwargs={"pk": paris["id"]}), {"name": "Paris,FR"}, format="json"
    )
    tagged = api.post(
        reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": ["VIP", "Lyon, FR"]}, format="json"
    )

    assert created.status_code == 400 and created.json()["errors"][0]["field"] == "name"
    assert renamed.status_code == 400 and renamed.json()["errors"][0]["field"] == "name"
    assert tagged.status_code == 400 and tagged.json()["errors"][0]["field"] == "tags.1"
    assert created.json()["errors"][0]["message"].startswith("Must not contain , ; or |")
    assert list(Tag.objects.unscoped().filter(tenant=tenant).values_list("name", flat=True)) == ["Paris"]
    assert not TagAssignment.objects.unscoped().filter(contact=contact).exists()


@pytest.mark.django_db
def test_a_tag_named_like_an_id_is_found_by_its_name(api, tenant):
    """A tag may be named with 32 hex digits (an order number): `?tags=` and `?tags_all=` find its
    holders by that name, as a bulk selection does."""
    holder, other = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    name = "12345678123456781234567812345678"
    tag_contact(api, holder, [name, "VIP"])
    tag_contact(api, other, ["VIP"])

    any_of = api.get(CONTACTS, {"tags": name.upper()})
    all_of = api.get(CONTACTS, {"tags_all": f"{name},VIP"})
    marker = api.post(TAGS, {"name": "Marker"}, format="json").json()["id"]
    applied = api.post(reverse("tag-apply", kwargs={"pk": marker}), {"filter": {"tags": name}}, format="json")

    assert [c["id"] for c in any_of.json()["results"]] == [str(holder.pk)]
    assert [c["id"] for c in all_of.json()["results"]] == [str(holder.pk)]
    assert applied.status_code == 200 and applied.json()["changed"] == 1
    assert set(
        TagAssignment.objects.unscoped().filter(tag_id=marker).values_list("contact_id", flat=True)
    ) == {holder.pk}


@pytest.mark.django_db
def test_an_id_is_the_tag_with_that_id_before_a_tag_named_so(api, tenant):
    """A value that is both a tag's id and another tag's name selects the tag with that id; an id of
    no tag (and no such name) selects nobody, and makes `tags_all` select nobody."""
    by_id, by_name = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    tag_contact(api, by_id, ["Real"])
    real = Tag.objects.unscoped().get(tenant=tenant, name="Real")
    tag_contact(api, by_name, [str(real.pk)])  # a second tag, named with the first one's id

    found = api.get(CONTACTS, {"tags": str(real.pk)})
    unknown = str(uuid.uuid4())

    assert [c["id"] for c in found.json()["results"]] == [str(by_id.pk)]
    assert api.get(CONTACTS, {"tags": unknown}).json()["count"] == 0
    assert api.get(CONTACTS, {"tags_all": f"Real,{unknown}"}).json()["count"] == 0


@pytest.mark.django_db
def test_an_existing_tag_with_a_semicolon_is_still_applied_by_name(api, tenant):
    """A tag named with ; before the rule (no data migration) is still found by its name: only a name
    given to a new tag is refused."""
    with tenant_context(tenant):
        ann = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "ann@example.com"})
    Tag.objects.unscoped().create(tenant=tenant, name="R;D")  # stored before this session's check
    response = api.post(f"/api/v1/contacts/{ann.pk}/tags/", {"tags": ["R;D"]}, format="json")
    assert response.status_code == 200, response.json()
    assert Tag.objects.unscoped().filter(tenant=tenant).count() == 1
    assert TagAssignment.objects.unscoped().filter(contact_id=ann.pk, tag__name="R;D").exists()

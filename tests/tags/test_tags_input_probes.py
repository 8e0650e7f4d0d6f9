"""Tags CRUD and bulk endpoints with odd input: a 400 naming the field or the documented answer."""

import uuid

import pytest
from django.urls import reverse

from contacts_service.roles import Role
from events.models import OutboxEvent
from tags.models import Tag, TagAssignment
from tests.factories import ContactFactory

TAGS = reverse("tag-list")
CONTACTS = reverse("contact-list")


def tag_url(tag_id, action=None):
    if action:
        return reverse(f"tag-{action}", kwargs={"pk": tag_id})
    return reverse("tag-detail", kwargs={"pk": tag_id})


@pytest.mark.django_db
def test_colour_lower_case_is_stored_upper(api):
    r = api.post(TAGS, {"name": "A", "color": "#ffd700"}, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["color"] == "#FFD700"
    r = api.patch(tag_url(r.json()["id"]), {"color": "#abcdef"}, format="json")
    assert r.status_code == 200 and r.json()["color"] == "#ABCDEF"


@pytest.mark.django_db
def test_rename_case_only_allowed(api):
    r = api.post(TAGS, {"name": "vip"}, format="json")
    r2 = api.patch(tag_url(r.json()["id"]), {"name": "VIP"}, format="json")
    assert r2.status_code == 200, r2.json()
    assert r2.json()["name"] == "VIP"


@pytest.mark.django_db
def test_rename_to_other_tags_name_any_case_400(api):
    api.post(TAGS, {"name": "Lead"}, format="json")
    r = api.post(TAGS, {"name": "vip"}, format="json")
    r2 = api.patch(tag_url(r.json()["id"]), {"name": "LEAD"}, format="json")
    assert r2.status_code == 400 and r2.json()["errors"][0]["code"] == "unique"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"name": "x", "color": None},
        {"name": "x", "description": None},
        {"name": "x", "color": ""},
        {"name": "x\x00"},
        {"name": "x", "description": "a\x00b"},
        {"name": "x", "color": 123},
        {"name": ["x"]},
        {"name": "x", "description": "d" * 2001},
    ],
)
def test_create_bad_bodies_are_400(api, body):
    r = api.post(TAGS, body, format="json")
    assert r.status_code in (201, 400), (r.status_code, r.content[:500])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"color": None},
        {"description": None},
        {"color": ""},
        {"name": "x\x00"},
        {"description": "a\x00b"},
        {},
        {"name": "  "},
    ],
)
def test_patch_bad_bodies_are_not_500(api, body):
    r = api.post(TAGS, {"name": "T"}, format="json")
    r2 = api.patch(tag_url(r.json()["id"]), body, format="json")
    assert r2.status_code in (200, 400), (r2.status_code, r2.content[:500])


@pytest.mark.django_db
def test_empty_colour_defaults(api):
    r = api.post(TAGS, {"name": "x", "color": ""}, format="json")
    assert r.status_code in (201, 400), r.content
    if r.status_code == 201:
        assert r.json()["color"] == "#6B7280"


@pytest.mark.django_db
def test_contact_count_soft_delete_restore(api, tenant):
    c1 = ContactFactory(tenant=tenant)
    c2 = ContactFactory(tenant=tenant)
    r = api.post(TAGS, {"name": "T"}, format="json")
    tid = r.json()["id"]
    assert api.post(
        tag_url(tid, "apply"), {"contact_ids": [str(c1.pk), str(c2.pk)]}, format="json"
    ).json() == {"changed": 2}
    assert api.get(tag_url(tid)).json()["contact_count"] == 2
    assert api.delete(reverse("contact-detail", kwargs={"pk": c1.pk})).status_code == 204
    assert api.get(tag_url(tid)).json()["contact_count"] == 1
    assert [t["contact_count"] for t in api.get(TAGS).json()["results"]] == [1]
    assert api.post(reverse("contact-restore", kwargs={"pk": c1.pk})).status_code == 200
    assert api.get(tag_url(tid)).json()["contact_count"] == 2
    r = api.post(reverse("contact-gdpr-erase", kwargs={"pk": c2.pk}))
    assert r.status_code in (200, 204), r.content
    assert api.get(tag_url(tid)).json()["contact_count"] == 1


@pytest.mark.django_db
def test_untag_a_tag_the_contact_lacks_is_404(api, tenant):
    c = ContactFactory(tenant=tenant)
    tid = api.post(TAGS, {"name": "T"}, format="json").json()["id"]
    before = OutboxEvent.objects.unscoped().count()
    r = api.delete(reverse("contact-remove-tag", kwargs={"pk": c.pk, "tag_id": tid}))
    assert r.status_code == 404
    r = api.delete(reverse("contact-remove-tag", kwargs={"pk": c.pk, "tag_id": "nope"}))
    assert r.status_code == 404
    assert OutboxEvent.objects.unscoped().count() == before


@pytest.mark.django_db
def test_untag_other_tenants_tag_is_404(api, tenant, other_tenant, client_for):
    other = client_for(other_tenant)
    oc = ContactFactory(tenant=other_tenant)
    otid = other.post(TAGS, {"name": "T"}, format="json").json()["id"]
    other.post(tag_url(otid, "apply"), {"contact_ids": [str(oc.pk)]}, format="json")
    c = ContactFactory(tenant=tenant)
    r = api.delete(reverse("contact-remove-tag", kwargs={"pk": c.pk, "tag_id": otid}))
    assert r.status_code == 404
    r = api.delete(reverse("contact-remove-tag", kwargs={"pk": oc.pk, "tag_id": otid}))
    assert r.status_code == 404
    assert TagAssignment.objects.unscoped().filter(tag_id=otid).count() == 1


@pytest.mark.django_db
def test_bulk_limits_and_duplicates(api, tenant):
    c = ContactFactory(tenant=tenant)
    tid = api.post(TAGS, {"name": "T"}, format="json").json()["id"]
    ids = [str(uuid.uuid4()) for _ in range(10_001)]
    r = api.post(tag_url(tid, "apply"), {"contact_ids": ids}, format="json")
    assert r.status_code == 400, r.content[:300]
    err = r.json()["errors"][0]
    assert err["field"] == "contact_ids" and err["code"] == "max_length", r.json()
    r = api.post(tag_url(tid, "apply"), {"contact_ids": [str(c.pk)] * 3}, format="json")
    assert r.status_code == 200 and r.json() == {"changed": 1}
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.tagged").count() == 1
    r = api.post(tag_url(tid, "apply"), {"contact_ids": [str(c.pk)]}, format="json")
    assert r.json() == {"changed": 0}
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.tagged").count() == 1
    r = api.post(tag_url(tid, "remove"), {"contact_ids": [str(c.pk)] * 2}, format="json")
    assert r.json() == {"changed": 1}
    r = api.post(tag_url(tid, "remove"), {"contact_ids": [str(c.pk)]}, format="json")
    assert r.json() == {"changed": 0}
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.untagged").count() == 1


@pytest.mark.django_db
def test_bulk_10000_ids_accepted(api, tenant):
    c = ContactFactory(tenant=tenant)
    tid = api.post(TAGS, {"name": "T"}, format="json").json()["id"]
    ids = [str(c.pk)] * 10_000
    r = api.post(tag_url(tid, "apply"), {"contact_ids": ids}, format="json")
    assert r.status_code == 200, r.content[:300]


@pytest.mark.django_db
def test_bulk_deleted_and_other_tenant_ids(api, tenant, other_tenant):
    c = ContactFactory(tenant=tenant)
    d = ContactFactory(tenant=tenant)
    o = ContactFactory(tenant=other_tenant)
    tid = api.post(TAGS, {"name": "T"}, format="json").json()["id"]
    api.delete(reverse("contact-detail", kwargs={"pk": d.pk}))
    for bad in (d, o):
        before = OutboxEvent.objects.unscoped().count()
        r = api.post(tag_url(tid, "apply"), {"contact_ids": [str(c.pk), str(bad.pk)]}, format="json")
        assert r.status_code == 400 and r.json()["errors"][0]["code"] == "not_found", r.json()
        assert TagAssignment.objects.unscoped().count() == 0
        assert OutboxEvent.objects.unscoped().count() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    "flt",
    [
        {"status": "active"},
        {"status": ["active", "blocked"]},
        {"country": "fr"},
        {"country": ["FR", "DE"]},
        {"city": "paris"},
        {"company": "cm"},
        {"email": "X@EXAMPLE.COM"},
        {"external_id": "e1"},
        {"source": "api"},
        {"created_after": "2000-01-01"},
        {"created_before": "2100-01-01T00:00:00Z"},
        {"updated_after": "2000-01-01"},
        {"updated_before": "2100-01-01"},
        {"search": "acme"},
        {"search": "0612345678"},
        {"tags": "VIP"},
        {"tags": ["VIP", "Lead"]},
        {"list": "00000000-0000-0000-0000-000000000000"},
        {"list": "not-a-uuid"},
        {"consent": "email:marketing:granted"},
        {"consent": "email:marketing:none"},
        {"consent": "bogus"},
        {"attribute": "nope:1"},
        {"created_after": "garbage"},
        {"status": "nope"},
        {"city": ""},
        {"tags": ""},
        {"ordering": "email"},
        {"page": "2"},
        {"cursor": ""},
        {"search": "x" * 201},
        {"search": "a b c d e f g h i"},
        {"email": "a\x00b"},
        {"city": "a\x00b"},
        {"external_id": "\x00"},
        {"search": "\x00"},
        {"tags": "\x00"},
        {"tags_all": "a\x00"},
        {"country": "\x00"},
        {"created_after": "\x00"},
        {"consent": "email:marketing:\x00"},
        {},
    ],
)
def test_every_filter_never_500(api, tenant, flt):
    ContactFactory(tenant=tenant, email="x@example.com", external_id="e1", source="api")
    tid = api.post(TAGS, {"name": "T"}, format="json").json()["id"]
    r = api.post(tag_url(tid, "apply"), {"filter": flt}, format="json")
    assert r.status_code in (200, 400), (r.status_code, r.content[:500])
    r = api.post(tag_url(tid, "remove"), {"filter": flt}, format="json")
    assert r.status_code in (200, 400), (r.status_code, r.content[:500])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"contact_ids": [], "filter": {}},
        {"contact_ids": []},
        {"contact_ids": None},
        {"filter": None},
        {"filter": []},
        {"filter": "x"},
        {"contact_ids": ["nope"]},
        {"contact_ids": "abc"},
        {"contact_ids": [1]},
        {"filter": {"country": None}},
        {"filter": {"country": 1}},
        {"filter": {"city": ["a", "b"]}},
        {"filter": {"bogus": "x"}},
        {"filter": {"status": []}},
        {"filter": {"country": [["FR"]]}},
        {"filter": {"country": {"a": 1}}},
        [],
        "x",
    ],
)
def test_bulk_bad_bodies_400(api, tenant, body):
    tid = api.post(TAGS, {"name": "T"}, format="json").json()["id"]
    r = api.post(tag_url(tid, "apply"), body, format="json")
    assert r.status_code == 400, (r.status_code, r.content[:500])


@pytest.mark.django_db
def test_bulk_filter_same_result_as_list(api, tenant):
    a = ContactFactory(tenant=tenant, country="FR")
    ContactFactory(tenant=tenant, country="DE")
    tid = api.post(TAGS, {"name": "T"}, format="json").json()["id"]
    r = api.post(tag_url(tid, "apply"), {"filter": {"country": "fr"}}, format="json")
    assert r.json() == {"changed": 1}
    assert TagAssignment.objects.unscoped().filter(contact=a).count() == 1


@pytest.mark.django_db
def test_bulk_apply_unknown_tag_404_other_tenant_tag_404(api, tenant, other_tenant, client_for):
    other = client_for(other_tenant)
    otid = other.post(TAGS, {"name": "T"}, format="json").json()["id"]
    c = ContactFactory(tenant=tenant)
    r = api.post(tag_url(otid, "apply"), {"contact_ids": [str(c.pk)]}, format="json")
    assert r.status_code == 404
    r = api.post(tag_url("nope", "apply"), {"contact_ids": [str(c.pk)]}, format="json")
    assert r.status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize(
    "tags",
    [["a" * 101], [""], ["  "], ["a\x00"], [None], [1], [], ["x"] * 51, "VIP"],
)
def test_contact_tags_bad_input(api, tenant, tags):
    c = ContactFactory(tenant=tenant)
    r = api.post(reverse("contact-add-tags", kwargs={"pk": c.pk}), {"tags": tags}, format="json")
    assert r.status_code == 400, (r.status_code, r.content[:500])


@pytest.mark.django_db
def test_contact_tags_create_with_default_colour_and_events(api, tenant):
    c = ContactFactory(tenant=tenant)
    r = api.post(
        reverse("contact-add-tags", kwargs={"pk": c.pk}), {"tags": ["New  One", "new one"]}, format="json"
    )
    assert r.status_code == 200, r.json()
    assert [t["name"] for t in r.json()["tags"]] == ["New One"]
    assert r.json()["tags"][0]["color"] == "#6B7280"
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.tagged").count() == 1
    r = api.post(reverse("contact-add-tags", kwargs={"pk": c.pk}), {"tags": ["NEW ONE"]}, format="json")
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.tagged").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role,ok",
    [
        (Role.OWNER, True),
        (Role.CONTACTS_MANAGER, True),
        (Role.MARKETING_MANAGER, True),
        (Role.CONTACTS_VIEWER, False),
    ],
)
def test_tag_permissions(client_for, tenant, role, ok):
    client = client_for(tenant, role)
    c = ContactFactory(tenant=tenant)
    tag = Tag(tenant=tenant, name="T")
    tag.save(force_insert=True)
    calls = [
        client.post(TAGS, {"name": "N"}, format="json"),
        client.patch(tag_url(tag.pk), {"color": "#000000"}, format="json"),
        client.post(tag_url(tag.pk, "apply"), {"contact_ids": [str(c.pk)]}, format="json"),
        client.post(tag_url(tag.pk, "remove"), {"contact_ids": [str(c.pk)]}, format="json"),
        client.post(reverse("contact-add-tags", kwargs={"pk": c.pk}), {"tags": ["X"]}, format="json"),
    ]
    for r in calls:
        assert (r.status_code < 300) == ok, (r.status_code, r.content[:300])
        if not ok:
            assert r.status_code == 403


@pytest.mark.django_db
def test_delete_tag_emits_untagged_and_counts(api, tenant):
    c1 = ContactFactory(tenant=tenant)
    c2 = ContactFactory(tenant=tenant)
    tid = api.post(TAGS, {"name": "T"}, format="json").json()["id"]
    api.post(tag_url(tid, "apply"), {"contact_ids": [str(c1.pk), str(c2.pk)]}, format="json")
    api.delete(reverse("contact-detail", kwargs={"pk": c2.pk}))
    r = api.delete(tag_url(tid))
    assert r.status_code == 204
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.untagged").count() >= 1

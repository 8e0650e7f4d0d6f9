"""More probes: counts after merge/undo, empty filter selections."""

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from tests.factories import ContactFactory

TAGS = reverse("tag-list")
LISTS = reverse("list-list")


def tag_url(tag_id, action):
    return reverse(f"tag-{action}", kwargs={"pk": tag_id})


@pytest.mark.django_db
def test_counts_after_merge_and_undo(api, tenant):
    a = ContactFactory(tenant=tenant)
    b = ContactFactory(tenant=tenant)
    c = ContactFactory(tenant=tenant)
    t1 = api.post(TAGS, {"name": "Both"}, format="json").json()["id"]
    t2 = api.post(TAGS, {"name": "OnlyB"}, format="json").json()["id"]
    api.post(tag_url(t1, "apply"), {"contact_ids": [str(a.pk), str(b.pk)]}, format="json")
    api.post(tag_url(t2, "apply"), {"contact_ids": [str(b.pk), str(c.pk)]}, format="json")
    lst = api.post(LISTS, {"name": "L"}, format="json").json()["id"]
    api.post(
        reverse("list-contacts", kwargs={"pk": lst}), {"contact_ids": [str(a.pk), str(b.pk)]}, format="json"
    )
    r = api.post(reverse("contact-merge", kwargs={"pk": a.pk}), {"others": [str(b.pk)]}, format="json")
    assert r.status_code == 201, r.json()
    counts = {t["name"]: t["contact_count"] for t in api.get(TAGS).json()["results"]}
    assert counts == {"Both": 1, "OnlyB": 2}
    assert api.get(reverse("list-detail", kwargs={"pk": lst})).json()["member_count"] == 1
    r = api.post(reverse("merge-undo", kwargs={"pk": r.json()["merge_id"]}))
    assert r.status_code in (200, 201), r.json()
    counts = {t["name"]: t["contact_count"] for t in api.get(TAGS).json()["results"]}
    assert counts == {"Both": 2, "OnlyB": 2}
    assert api.get(reverse("list-detail", kwargs={"pk": lst})).json()["member_count"] == 2


@pytest.mark.django_db
def test_get_contacts_tags_all_unknown(api, tenant):
    ContactFactory(tenant=tenant)
    r = api.get(reverse("contact-list"), {"tags_all": "Nope"})
    assert r.status_code == 200 and r.json()["count"] == 0
    r = api.get(reverse("contact-list"), {"tags_all": "Nope", "cursor": ""})
    assert r.status_code == 200 and r.json()["count"] == 0


@pytest.mark.django_db
def test_export_tags_all_unknown(api, tenant):
    ContactFactory(tenant=tenant)
    r = api.post(reverse("export-list"), {"filters": {"tags_all": "Nope"}}, format="json")
    assert r.status_code in (201, 202, 400), (r.status_code, r.content[:300])


@pytest.mark.django_db
def test_bulk_event_payloads(api, tenant):
    a = ContactFactory(tenant=tenant)
    b = ContactFactory(tenant=tenant)
    t = api.post(TAGS, {"name": "Gold", "color": "#ffd700"}, format="json").json()["id"]
    api.post(reverse("contact-add-tags", kwargs={"pk": a.pk}), {"tags": ["gold"]}, format="json")
    r = api.post(tag_url(t, "apply"), {"filter": {}}, format="json")
    assert r.json() == {"changed": 1}
    events = list(OutboxEvent.objects.unscoped().filter(event_type="contact.tagged").order_by("created_at"))
    assert len(events) == 2
    for e in events:
        p = e.payload if isinstance(e.payload, dict) else __import__("json").loads(e.payload)
        assert p["data"]["tag"] == {"id": t, "name": "Gold", "color": "#FFD700"}
        assert p["data"]["contact_id"] == str(e.aggregate_id)
        assert p["sequence"] == e.sequence
    lst = api.post(LISTS, {"name": "L"}, format="json").json()["id"]
    r = api.post(reverse("list-contacts", kwargs={"pk": lst}), {"filter": {"tags": "gold"}}, format="json")
    assert r.json() == {"changed": 2}
    api.delete(reverse("contact-detail", kwargs={"pk": b.pk}))
    OutboxEvent.objects.unscoped().count()
    r = api.delete(reverse("list-detail", kwargs={"pk": lst}))
    assert r.status_code == 204
    removed = OutboxEvent.objects.unscoped().filter(event_type="contact.removed_from_list").count()
    assert removed >= 1

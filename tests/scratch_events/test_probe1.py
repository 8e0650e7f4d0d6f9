import json
import pytest
from django.urls import reverse
from tests.scratch_events.helpers import create, events, contact_url, TAGS, LISTS

def dump(evs):
    for e in evs:
        print(e.id, e.event_type, e.aggregate_id, e.sequence, json.dumps(e.payload["data"])[:300])

@pytest.mark.django_db(transaction=False)
def test_probe_tags(api, tenant):
    a = create(api, email="a@example.com", first_name="Ann")
    b = create(api, email="b@example.com")
    r = api.post(contact_url(a["id"], "add-tags"), {"tags": ["VIP", "vip", "Gold"]}, format="json")
    print(r.status_code)
    r = api.post(contact_url(a["id"], "add-tags"), {"tags": ["VIP"]}, format="json")
    tag = api.get(TAGS).json()
    print(tag)
    tid = [t for t in tag["results"]][0]["id"]
    r = api.post(reverse("tag-apply", kwargs={"pk": tid}), {"contact_ids": [a["id"], b["id"], b["id"]]}, format="json")
    print("apply", r.status_code, r.json())
    r = api.patch(reverse("tag-detail", kwargs={"pk": tid}), {"name": "Renamed"}, format="json")
    api.delete(contact_url(b["id"]))
    r = api.delete(reverse("tag-detail", kwargs={"pk": tid}))
    print("delete", r.status_code)
    dump(events())

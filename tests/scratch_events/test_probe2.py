import json
import pytest
from django.urls import reverse
from tests.scratch_events.helpers import create, events, contact_url, TAGS, LISTS

def dump(evs):
    for e in evs:
        print("EV", e.id, e.event_type, str(e.aggregate_id)[-6:], e.sequence, json.dumps(e.payload["data"])[:250])

@pytest.mark.django_db
def test_probe_lists(api, tenant):
    a = create(api, email="a@example.com", first_name="Ann", country="FR")
    b = create(api, email="b@example.com", country="DE")
    seg = api.post(LISTS, {"name": "FR", "kind": "dynamic", "rules": {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]}}, format="json").json()
    print("seg", seg)
    st = api.post(LISTS, {"name": "Static"}, format="json").json()
    st2 = api.post(LISTS, {"name": "Static2"}, format="json").json()
    r = api.post(reverse("list-contacts", kwargs={"pk": st["id"]}), {"contact_ids": [a["id"], b["id"]]}, format="json")
    print("add", r.json())
    r = api.post(reverse("list-contacts", kwargs={"pk": st2["id"]}), {"contact_ids": [b["id"]]}, format="json")
    print("EVMARK patch b FR")
    api.patch(contact_url(b["id"]), {"country": "FR"}, format="json")
    print("EVMARK patch a DE")
    api.patch(contact_url(a["id"]), {"country": "DE"}, format="json")
    print("EVMARK merge lists")
    r = api.post(reverse("list-merge", kwargs={"pk": st["id"]}), {"lists": [st2["id"]], "delete_merged": True}, format="json")
    print(r.status_code, r.json())
    print("EVMARK delete b")
    api.delete(contact_url(b["id"]))
    print("EVMARK restore b")
    api.post(contact_url(b["id"], "restore"))
    print("EVMARK rename list")
    api.patch(reverse("list-detail", kwargs={"pk": st["id"]}), {"name": "StaticR"}, format="json")
    print("EVMARK delete list")
    api.delete(reverse("list-detail", kwargs={"pk": st["id"]}))
    dump(events())

import json
import pytest
from django.urls import reverse
from tests.merges.conftest import trio, merge_url, undo_url, contact_url  # noqa
from tests.scratch_events.helpers import events

def dump(evs):
    for e in evs:
        print("EV", e.id, e.event_type, str(e.aggregate_id)[-6:], e.sequence, json.dumps(e.payload["data"])[:400])

@pytest.mark.django_db
def test_probe_merge(api, tenant, trio):
    start = events()[-1].id
    r = api.post(merge_url(trio.primary["id"]), {"others": [trio.x["id"], trio.y["id"]]}, format="json")
    print(r.status_code, r.json().keys())
    merge_id = r.json()["merge_id"]
    print("merge id", merge_id, r.json())
    dump([e for e in events() if e.id > start])
    start = events()[-1].id
    r = api.post(undo_url(merge_id))
    print("undo", r.status_code, r.json())
    dump([e for e in events() if e.id > start])

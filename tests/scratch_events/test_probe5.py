import json
import pytest
from django.urls import reverse
from tests.merges.conftest import trio, merge_url, undo_url, contact_url  # noqa
from tests.scratch_events.helpers import events

def dump(evs):
    for e in evs:
        print("EV", e.id, e.event_type, str(e.aggregate_id)[-6:], e.sequence, json.dumps(e.payload["data"]))

@pytest.mark.django_db
def test_probe_undo_erase(api, tenant, trio):
    r = api.post(merge_url(trio.primary["id"]), {"others": [trio.x["id"], trio.y["id"]]}, format="json")
    merge_id = r.json()["merge_id"]
    start = events()[-1].id
    r = api.post(undo_url(merge_id))
    dump([e for e in events() if e.id > start and e.event_type == "contact.updated"])
    start2 = events()[-1].id
    r = api.post(contact_url(trio.x["id"], "gdpr-erase"))
    print("erase", r.status_code, r.json())
    print("AFTER ERASE")
    dump([e for e in events() if e.id > events()[0].id - 1 and e.event_type in ("contact.merged","contact.updated","contact.deleted","contact.restored")])

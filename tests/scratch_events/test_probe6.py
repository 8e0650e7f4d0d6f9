import json
import pytest
from django.urls import reverse
from tests.imports.conftest import upload, run, job_url, media  # noqa
from tests.scratch_events.helpers import create, events, contact_url, LISTS

def dump(evs):
    for e in evs:
        print("EV", e.id, e.event_type, str(e.aggregate_id)[-6:], e.sequence, e.payload["correlation_id"], json.dumps(e.payload["data"])[:600])

@pytest.mark.django_db
def test_probe_import(api, tenant):
    a = create(api, email="a@example.com", first_name="Ann", country="FR")
    r = api.post(reverse("contact-consents", kwargs={"contact_pk": a["id"]}), {"channel": "email", "purpose": "marketing", "status": "granted"}, format="json")
    st = api.post(LISTS, {"name": "Static"}, format="json").json()
    seg = api.post(LISTS, {"name": "DE", "kind": "dynamic", "rules": {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "DE"}]}}, format="json").json()
    start = events()[-1].id
    csv = "email,first_name,country,tags,consent\na@example.com,Ann,DE,VIP;Gold,yes\nb@example.com,Bob,FR,VIP,no\nc@example.com,,,,\n"
    r = upload(api, csv, name="c.csv")
    print(r.status_code, r.json())
    job = r.json()
    print("mapping", job["mapping"])
    res = run(api, job["id"], list_id=st["id"], tags=["Imported"], HTTP_X_CORRELATION_ID="imp-1") if False else run(api, job["id"], list_id=st["id"], tags=["Imported"])
    print(res)
    dump([e for e in events() if e.id > start])

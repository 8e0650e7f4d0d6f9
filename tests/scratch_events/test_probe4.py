import json
import pytest
from django.urls import reverse
from tests.scratch_events.helpers import create, events, contact_url, TAGS, LISTS

@pytest.mark.django_db
def test_probe_inputs(api, tenant):
    api.raise_request_exception = False
    a = create(api, email="a@example.com", first_name="Ann", country="FR")
    acts = reverse("contact-activities", kwargs={"contact_pk": a["id"]})
    batch = reverse("activity-batch") if True else None
    cases = [
        ("post", acts, {"type": "email_opened", "occurred_at": "0001-01-01T00:00:00+01:00"}),
        ("post", acts, {"type": "email_opened", "occurred_at": "9999-12-31T23:59:59-01:00"}),
        ("post", acts, {"type": "email_opened", "data": {"a": "\ud800"}}),
        ("post", acts, {"type": "email_opened", "title": "\ud800"}),
        ("post", acts, {"type": "email_opened", "idempotency_key": "\ud800"}),
        ("post", acts, {"type": "email_opened", "source": "\ud800"}),
        ("post", acts, {"type": "email_opened", "data": {"\x00": 1}}),
        ("post", acts, {"type": "email_opened", "data": {"a": 1e308*10}}),
        ("post", batch, {"activities": [{"type": "x", "email": "A@EXAMPLE.COM"}]}),
        ("post", batch, {"activities": [{"type": "x", "email": "a@example.com", "occurred_at": "0001-01-01T00:00:00Z"}]}),
        ("post", reverse("outboxevent-replay") if False else "/api/v1/events/replay/", {"created_after": "0001-01-01T00:00:00+01:00", "created_before": "2030-01-01T00:00:00Z"}),
        ("post", "/api/v1/events/replay/", {"created_after": "2020-01-01T00:00:00Z", "created_before": "9999-12-31T23:59:59-01:00"}),
        ("post", "/api/v1/events/replay/", {"created_after": "2020-01-01T00:00:00Z", "created_before": "2030-01-01T00:00:00Z", "event_type": ["\x00"]}),
        ("get", "/api/v1/events/?created_after=0001-01-01T00:00:00%2B01:00", None),
        ("get", "/api/v1/events/?event_type=%00", None),
        ("get", contact_url(a["id"], "timeline") + "?occurred_after=0001-01-01T00:00:00%2B01:00", None),
        ("get", contact_url(a["id"], "timeline") + "?type=%00", None),
        ("get", contact_url(a["id"], "timeline") + "?activity_type=%00", None),
        ("get", "/api/v1/events/99999999999999999999999/", None),
    ]
    for method, url, body in cases:
        if method == "post":
            r = api.post(url, json.dumps(body), content_type="application/json")
        else:
            r = api.get(url)
        print("CASE", r.status_code, url, str(body)[:100], r.content[:200])

"""GET /events/ status after a replay: `failed` is documented as "pending after failed attempts"
(docs/api.md, Events); a replayed event that was delivered fine is pending, not failed."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import OutboxEvent
from events.relay import OutboxRelay

EVENTS = reverse("event-list")
REPLAY = reverse("event-replay")


@pytest.mark.django_db(transaction=True)
def test_a_replayed_event_is_pending_not_failed(api, broker):
    api.post(reverse("contact-list"), {"email": "ann@example.com"}, format="json")
    relay = OutboxRelay()
    try:
        assert relay.drain() == 1  # published and confirmed at the first attempt: never failed
    finally:
        relay.publisher.close()
    [event] = api.get(EVENTS).json()["results"]
    assert (event["status"], event["attempts"], event["last_error"]) == ("sent", 1, "")

    now = timezone.now()
    body = {
        "created_after": (now - dt.timedelta(hours=1)).isoformat(),
        "created_before": (now + dt.timedelta(hours=1)).isoformat(),
    }
    assert api.post(REPLAY, body, format="json").json() == {"replayed": 1}
    assert OutboxEvent.objects.unscoped().get().sent_at is None

    [event] = api.get(EVENTS).json()["results"]
    assert event["status"] == "pending", event
    assert api.get(EVENTS, {"status": "failed"}).json()["count"] == 0
    assert api.get(EVENTS, {"status": "pending"}).json()["count"] == 1

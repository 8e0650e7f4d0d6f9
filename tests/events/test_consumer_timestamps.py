"""consume_events: an `occurred_at` that is valid ISO 8601 (docs/events.md: "occurred_at: ISO 8601 (no
offset = UTC)") must be applied like any other, never turned into a poison message or a row the
admin cannot read back."""

from __future__ import annotations

import json
import uuid

import pytest
from django.urls import reverse

from contacts_service.models import User
from events.consumer import UserEventsConsumer, handle_user_event
from events.models import ProcessedMessage
from tests.events.test_consumer import AuthBroker
from tests.factories import UserFactory


def _body(
    occurred_at: str, subject: str, event_id: str | None = None, event_type: str = "user.created"
) -> bytes:
    return json.dumps(
        {
            "event_id": event_id or str(uuid.uuid4()),
            "event_type": event_type,
            "occurred_at": occurred_at,
            "data": {"user_id": subject, "first_name": "Ada", "is_active": True},
        }
    ).encode()


@pytest.fixture
def broker(settings):
    broker = AuthBroker(settings)
    yield broker
    broker.cleanup()


@pytest.mark.django_db(transaction=True)
def test_a_user_event_whose_occurred_at_has_a_large_utc_offset_is_applied_not_dead_lettered(broker):
    # given a user.created the auth service stamped with a +18:00 offset (valid ISO 8601, and a
    # time Python reads; 2026-01-01T12:00+18:00 is 2025-12-31T18:00Z)
    broker.publish("user.created", body=_body("2026-01-01T12:00:00+18:00", "auth-offset"))

    # when consume_events drains the queue
    consumer = UserEventsConsumer(idle_timeout=0.3)
    consumer.run(once=True)

    # then the user exists, the message was applied once, and nothing went to the dead-letter queue
    assert dict(consumer.stats) == {"applied": 1}
    assert User.objects.filter(auth_subject="auth-offset", first_name="Ada").exists()
    assert broker.depth(broker.queue) == 0
    assert broker.depth(broker.dead_letter_queue) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("occurred_at", ["2026-01-01T12:00:00+18:00", "2026-01-01T12:00:00-16:30"])
def test_the_handler_applies_an_event_whose_offset_postgresql_does_not_take(occurred_at):
    assert handle_user_event(_body(occurred_at, "auth-offset-2"), None) == "applied"
    assert User.objects.filter(auth_subject="auth-offset-2").exists()


@pytest.mark.django_db
def test_a_processed_message_with_an_early_occurred_at_can_be_read_back_and_shown_in_the_admin(client):
    # given an event stamped at the very start of year 1 with a positive offset: in UTC it is
    # before year 1 (PostgreSQL stores it as a BC timestamp, which Python cannot represent)
    assert handle_user_event(_body("0001-01-01T00:00:00+01:00", "auth-early", event_id="early-1"), None) == (
        "applied"
    )

    # then the consumer's record of it can still be read ...
    record = ProcessedMessage.objects.get(event_id="early-1")
    assert record.subject == "auth-early"

    # ... and operators can open the admin's Processed messages page
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    response = client.get(reverse("admin:events_processedmessage_changelist"))
    assert response.status_code == 200

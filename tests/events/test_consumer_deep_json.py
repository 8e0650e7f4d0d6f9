"""A message nested too deeply to parse is "not JSON / not an object": rejected at once (docs/events.md,
Failures and dead-lettering), never a crash of the consumer."""

from __future__ import annotations

import pytest

from events.consumer import MalformedEvent, handle_user_event
from tests.events.test_consumer import AuthBroker, drain

DEEP = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def auth_broker(settings):
    broker = AuthBroker(settings)
    yield broker
    broker.cleanup()


def test_a_deeply_nested_body_is_a_malformed_event():
    with pytest.raises(MalformedEvent):
        handle_user_event(DEEP)


@pytest.mark.django_db(transaction=True)
def test_a_deeply_nested_message_is_dead_lettered_at_once_and_the_consumer_goes_on(auth_broker):
    auth_broker.publish("user.created", body=DEEP, event_id="deep-1")
    good = auth_broker.publish("user.created", {"user_id": "u-1", "first_name": "Ann"})
    stats = drain()  # must not raise
    assert stats == {"rejected": 1, "applied": 1}
    dead = auth_broker.dead_letters(1)
    assert [p.message_id for p, _ in dead] == ["deep-1"]
    assert good

"""consume_events: text the database cannot store (JSON's \\ud800 escapes decode to lone surrogates).

docs/events.md: a message that can never be applied (..., no event id, no user id, ...) is rejected
without requeue at once; an email that cannot be taken is left blank. The first-sight path already
does that for emails (contacts_service.auth._user_from_claims checks _storable); the other paths do not.
"""

from __future__ import annotations

import pytest

from contacts_service.models import User
from events.consumer import MalformedEvent, handle_user_event
from events.models import ProcessedMessage


def _raw(data: str, event_id: str = '"e-1"', event_type: str = "user.updated") -> bytes:
    return f'{{"event_id": {event_id}, "event_type": "{event_type}", "data": {data}}}'.encode()


@pytest.mark.django_db
def test_a_user_id_with_a_lone_surrogate_is_refused_as_no_usable_user_id():
    # a user id PostgreSQL cannot hold is no usable user id: rejected at once (straight to the DLX),
    # not retried EVENTS_CONSUMER_MAX_DELIVERIES times as a database failure
    with pytest.raises(MalformedEvent, match="user id"):
        handle_user_event(_raw('{"user_id": "u-\\ud800"}', event_type="user.created"), None)
    assert not ProcessedMessage.objects.exists()


@pytest.mark.django_db
def test_an_event_id_with_a_lone_surrogate_is_not_a_usable_event_id():
    with pytest.raises(MalformedEvent, match="event_id"):
        handle_user_event(_raw('{"user_id": "u-2"}', event_id='"e-\\ud800"', event_type="user.created"), None)
    assert not ProcessedMessage.objects.exists()


@pytest.mark.django_db
def test_an_update_with_an_unstorable_email_still_deactivates_the_user_and_leaves_the_email_blank():
    # given a user the consumer knows
    assert handle_user_event(
        _raw(
            '{"user_id": "u-3", "email": "u3@example.com", "email_verified": true}', '"c-3"', "user.created"
        ),
        None,
    )
    user = User.objects.get(auth_subject="u-3")
    assert user.email == "u3@example.com" and user.is_active

    # when the auth service deactivates them, with an email the database cannot store
    outcome = handle_user_event(
        _raw(
            '{"user_id": "u-3", "email": "x\\ud800@example.com", "email_verified": true, "is_active": false}',
            '"u-3-upd"',
        ),
        None,
    )

    # then the update is applied (as on first sight, where such an email is left blank)
    assert outcome == "applied"
    user.refresh_from_db()
    assert user.is_active is False
    assert user.email == ""

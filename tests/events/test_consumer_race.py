"""Two consume_events processes side by side (docs/events.md: "more can run side by side") applying
two events of a user never seen before: the older one must not overwrite the newer one
("A created/updated event older (occurred_at) than one already applied to the same user is
recorded as stale and changes nothing")."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid

import pytest
from django.db import connection

from contacts_service.models import User
from events import consumer as consumer_module
from events.consumer import handle_user_event
from events.models import ProcessedMessage

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


def _body(event_type, subject, occurred_at, **data):
    return json.dumps({
        "event_id": str(uuid.uuid4()), "event_type": event_type, "occurred_at": occurred_at.isoformat(),
        "data": {"user_id": subject, **data},
    }).encode()  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_an_older_event_racing_a_newer_one_for_a_new_user_does_not_win(monkeypatch):
    subject = f"sub-{uuid.uuid4()}"
    newer = _body("user.created", subject, T0 + dt.timedelta(minutes=5), first_name="New", last_name="Newer")
    older = _body("user.updated", subject, T0, first_name="Old", last_name="Older")

    newer_applied, release_newer = threading.Event(), threading.Event()
    original = consumer_module._apply_profile

    def apply_profile(user, data):
        changed = original(user, data)
        if threading.current_thread().name == "newer":
            newer_applied.set()
            release_newer.wait(10)  # the newer event's transaction is still open
        return changed

    monkeypatch.setattr(consumer_module, "_apply_profile", apply_profile)
    outcomes = {}

    def run(name, body):
        try:
            outcomes[name] = handle_user_event(body)
        except Exception as exc:  # pragma: no cover - reported below
            outcomes[name] = repr(exc)
        finally:
            connection.close()

    t_newer = threading.Thread(target=run, args=("newer", newer), name="newer")
    t_newer.start()
    assert newer_applied.wait(10)
    t_older = threading.Thread(target=run, args=("older", older), name="older")
    t_older.start()
    time.sleep(1.0)  # the older one is now waiting on the newer one's new user row
    release_newer.set()
    t_newer.join(10)
    t_older.join(10)

    user = User.objects.get(auth_subject=subject)
    outcomes_recorded = dict(
        ProcessedMessage.objects.filter(subject=subject).values_list("event_type", "outcome")
    )
    assert (user.first_name, user.last_name) == ("New", "Newer"), (outcomes, outcomes_recorded)

"""The relay's log line for the batch that published an event lists the event's correlation id in
`correlation_ids`, every one of the batch (found by a bug hunt: the list was cut to 100), so following a
request through the logs (docs/operations.md) reaches the relay."""

from __future__ import annotations

import logging

import pytest

from events.relay import OutboxRelay
from tests.events.test_relay_failures import _seed_outbox


@pytest.mark.django_db(transaction=True)
def test_every_published_events_correlation_id_is_on_its_batch_log_lines(tenant, broker, caplog):
    """Each of 450 requests' correlation ids is on a relay line of the batch that published its event:
    200 a line, the rest on `published batch continued` lines."""
    _seed_outbox(tenant, 450, payload="json_build_object('correlation_id', 'req-' || n)")
    caplog.set_level(logging.INFO, logger="events.relay")
    relay = OutboxRelay()
    try:
        assert relay.drain() == 450
    finally:
        relay.publisher.close()

    lines = [r for r in caplog.records if getattr(r, "correlation_ids", None)]
    logged = [cid for record in lines for cid in record.correlation_ids]
    assert sorted(logged) == sorted(f"req-{n}" for n in range(1, 451))
    assert max(len(record.correlation_ids) for record in lines) == 200
    assert sum(r.getMessage().startswith("published batch continued") for r in lines) == len(lines) - 1

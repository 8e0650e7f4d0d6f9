"""The relay's log line for the batch that published an event lists the event's correlation id in
`correlation_ids`, every one of the batch (found by a bug hunt: the list was cut to 100), so following a
request through the logs (docs/operations.md) reaches the relay."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from events.relay import OutboxRelay


def _seed(tenant, count: int) -> None:
    """`count` pending events, each recorded by a different request (its own correlation id)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO events_outboxevent
                (tenant_id, event_id, event_type, aggregate_type, aggregate_id, sequence, payload,
                 created_at, attempts, last_error)
            SELECT %s, gen_random_uuid(), 'contact.updated', 'contact', gen_random_uuid(), 1,
                   json_build_object('correlation_id', 'req-' || n), now(), 0, ''
            FROM generate_series(1, %s) AS n
            """,
            [tenant.pk, count],
        )


@pytest.mark.django_db(transaction=True)
def test_every_published_events_correlation_id_is_on_its_batch_log_line(tenant, broker, caplog):
    """Each of 150 requests' correlation ids is on the INFO line of the batch that published its event."""
    _seed(tenant, 150)
    caplog.set_level(logging.INFO, logger="events.relay")
    relay = OutboxRelay()
    try:
        assert relay.drain() == 150
    finally:
        relay.publisher.close()

    logged = set()
    for record in caplog.records:
        logged.update(getattr(record, "correlation_ids", []) or [])
    missing = {f"req-{n}" for n in range(1, 151)} - logged
    assert not missing, f"{len(missing)} correlation ids on no relay batch line, e.g. {sorted(missing)[:3]}"

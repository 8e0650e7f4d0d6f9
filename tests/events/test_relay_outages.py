"""OutboxRelay.run() riding out outages of RabbitMQ and of PostgreSQL: each counted in
`contacts_relay_outages_total{dependency}` when it starts, also during the other's, and each logged
back by its own name (found by a bug hunt: one start time served both)."""

from __future__ import annotations

import logging

from django.db import OperationalError

from contacts_service import metrics
from events.relay import BrokerUnavailable, OutboxRelay


class _NoPublisher:
    is_open = True

    def open(self):
        pass

    def close(self):
        pass

    def wait(self, seconds):
        pass


def _relay_with_outcomes(outcomes: list) -> OutboxRelay:
    """A relay whose drain() raises (or returns) each of `outcomes` in turn, then stops."""
    relay = OutboxRelay(publisher=_NoPublisher())
    steps = iter(outcomes)

    def drain(**_kwargs):
        step = next(steps, None)
        if step is None:
            relay.stop.set()
            return 0
        if isinstance(step, Exception):
            raise step
        return step

    relay.drain = drain
    return relay


def _outages(dependency: str) -> float:
    return metrics.RELAY_OUTAGES.labels(dependency)._value.get()


def test_a_postgresql_outage_during_a_rabbitmq_outage_is_counted_too(settings, caplog):
    """A PostgreSQL outage that starts while RabbitMQ is down is counted (and logged) as one of its own."""
    settings.EVENTS_RELAY_MAX_BACKOFF_SECONDS = 0.01
    rabbit, postgres = _outages("RabbitMQ"), _outages("PostgreSQL")
    relay = _relay_with_outcomes(
        [BrokerUnavailable("connection refused"), OperationalError("server closed the connection"), 0]
    )
    caplog.set_level(logging.WARNING, logger="events.relay")
    relay.run(once=True)
    assert _outages("RabbitMQ") - rabbit == 1
    assert _outages("PostgreSQL") - postgres == 1
    # the round that met PostgreSQL down had opened the publisher: RabbitMQ was back then
    back = [
        r.getMessage().split(" reachable again")[0]
        for r in caplog.records
        if "reachable again" in r.getMessage()
    ]
    assert back == ["RabbitMQ", "PostgreSQL"]


def test_the_end_of_a_postgresql_outage_is_not_logged_as_rabbitmq_reachable_again(settings, caplog):
    """The end of a PostgreSQL outage is logged as PostgreSQL reachable again, not RabbitMQ."""
    settings.EVENTS_RELAY_MAX_BACKOFF_SECONDS = 0.01
    caplog.set_level(logging.WARNING, logger="events.relay")
    relay = _relay_with_outcomes([OperationalError("server closed the connection"), 0])
    relay.run(once=True)
    messages = [r.getMessage() for r in caplog.records]
    assert any("PostgreSQL unavailable" in m for m in messages), messages
    assert not any("RabbitMQ reachable again" in m for m in messages), messages
    assert any("PostgreSQL reachable again" in m for m in messages), messages

"""OutboxRelay.drain() alone, against a publisher that nacks or fails at random (a unit test of the
rounds logic; tests/events/test_relay_nack_order.py does it with RabbitMQ): a consumer applying only
higher sequences per contact ends up having applied every event; nothing stays unsent or is lost."""

import json
import random
import uuid

import pytest
from django.db import connection

from events.models import OutboxEvent
from events.relay import BrokerUnavailable, OutboxRelay, PublishResult


class FakePublisher:
    def __init__(self, rng, nack_p=0.1, err_p=0.03):
        self.rng, self.nack_p, self.err_p = rng, nack_p, err_p
        self.delivered = []  # bodies the broker took, in order
        self.open_ = True

    @property
    def is_open(self):
        return self.open_

    def open(self):
        self.open_ = True

    def close(self):
        self.open_ = False

    def wait(self, seconds):
        pass

    def send(self, messages):
        result = PublishResult()
        if not self.open_:
            result.error = BrokerUnavailable("closed")
            return result
        for index, m in enumerate(messages):
            result.size += 1
            if self.rng.random() < self.err_p:
                result.error = BrokerUnavailable("boom")
                self.open_ = False
                return result
            if self.rng.random() < self.nack_p:
                result.nacked.append(index)
            else:
                result.acked.append(index)
                self.delivered.append(json.loads(m.body))
        return result

    def confirm(self, result):
        return result


def _seed(tenant, contacts, per):
    aggs = [uuid.uuid4() for _ in range(contacts)]
    rng = random.Random(1)
    # interleave: keep per-contact order but shuffle across contacts
    queues = {a: list(range(1, per + 1)) for a in aggs}
    seq = []
    while any(queues.values()):
        a = rng.choice([a for a in aggs if queues[a]])
        seq.append((a, queues[a].pop(0)))
    with connection.cursor() as cursor:
        for a, s in seq:
            cursor.execute(
                "INSERT INTO events_outboxevent (tenant_id, event_id, event_type, aggregate_type,"
                " aggregate_id, sequence, payload, created_at, attempts, last_error) VALUES (%s,"
                " gen_random_uuid(), 'contact.updated', 'contact', %s, %s,"
                " json_build_object('aggregate_id', %s::text, 'sequence', %s), now(), 0, '')",
                [tenant.pk, a, s, str(a), s],
            )
    return len(seq)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("batch_size", [1, 3, 7, 50])
def test_random_nacks_keep_order(tenant, seed, batch_size):
    n = _seed(tenant, contacts=6, per=5)
    publisher = FakePublisher(random.Random(seed))
    relay = OutboxRelay(batch_size=batch_size, publisher=publisher)
    for _ in range(400):
        try:
            relay.drain()
        except BrokerUnavailable:
            publisher.open()
        if not OutboxEvent.objects.unscoped().filter(sent_at__isnull=True).exists():
            break
    assert not OutboxEvent.objects.unscoped().filter(sent_at__isnull=True).exists()
    held, applied = {}, set()
    for m in publisher.delivered:
        if m["sequence"] > held.get(m["aggregate_id"], 0):
            held[m["aggregate_id"]] = m["sequence"]
            applied.add((m["aggregate_id"], m["sequence"]))
    assert len(applied) == n, "an event was overtaken by a later one of its contact"

"""OutboxRelay.drain() alone, against a publisher that nacks or fails at random (a unit test of the
rounds logic; tests/events/test_relay_nack_order.py does it with RabbitMQ): a consumer applying only
higher sequences per contact ends up having applied every event; nothing stays unsent or is lost."""

import json
import random
import threading
import uuid
from contextlib import contextmanager

import pytest
from django.db import connection, connections, transaction

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


def _insert(tenant, aggregate, sequence):
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO events_outboxevent (tenant_id, event_id, event_type, aggregate_type, aggregate_id,"
            " sequence, payload, created_at, attempts, last_error) VALUES (%s, gen_random_uuid(),"
            " 'contact.updated', 'contact', %s, %s, json_build_object('aggregate_id', %s::text, 'sequence',"
            " %s), now(), 0, '') RETURNING id",
            [tenant.pk, aggregate, sequence, str(aggregate), sequence],
        )
        return cursor.fetchone()[0]


@contextmanager
def holding(row_id):
    """Another transaction (a replay, an erasure rewriting it) holds this outbox row locked meanwhile."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        try:
            with transaction.atomic():
                list(OutboxEvent.objects.unscoped().select_for_update().filter(pk=row_id))
                locked.set()
                release.wait(30)
        finally:
            connections.close_all()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        yield
    finally:
        release.set()
        holder.join()


@pytest.mark.django_db(transaction=True)
def test_an_event_another_transaction_holds_is_not_overtaken_by_a_later_one_of_its_contact(tenant):
    """SKIP LOCKED passes a row another transaction holds (a replay, an erasure rewriting it): the
    later events of its contact wait for it; other contacts' events go on."""
    a, b = uuid.uuid4(), uuid.uuid4()
    first = _insert(tenant, a, 1)
    _insert(tenant, a, 2)
    _insert(tenant, b, 1)
    with holding(first):
        publisher = FakePublisher(random.Random(0), nack_p=0, err_p=0)
        OutboxRelay(batch_size=10, publisher=publisher).drain()
        assert [(m["aggregate_id"], m["sequence"]) for m in publisher.delivered] == [(str(b), 1)]
    OutboxRelay(batch_size=10, publisher=publisher).drain()
    delivered = [(m["aggregate_id"], m["sequence"]) for m in publisher.delivered]
    assert delivered == [(str(b), 1), (str(a), 1), (str(a), 2)]
    assert not OutboxEvent.objects.unscoped().filter(sent_at__isnull=True).exists()


@pytest.mark.django_db(transaction=True)
def test_a_batch_of_only_held_back_events_does_not_end_the_drain(tenant):
    """When every event a claim takes waits for an earlier one another transaction holds, the drain
    claims past them: the events of other contacts behind them still go out in the same drain."""
    a, b = uuid.uuid4(), uuid.uuid4()
    first = _insert(tenant, a, 1)
    _insert(tenant, a, 2)
    _insert(tenant, a, 3)
    _insert(tenant, b, 1)
    with holding(first):
        publisher = FakePublisher(random.Random(0), nack_p=0, err_p=0)
        published = OutboxRelay(batch_size=2, publisher=publisher).drain()
        assert [(m["aggregate_id"], m["sequence"]) for m in publisher.delivered] == [(str(b), 1)]
        assert published == 1
    OutboxRelay(batch_size=2, publisher=publisher).drain()
    delivered = [(m["aggregate_id"], m["sequence"]) for m in publisher.delivered]
    assert delivered == [(str(b), 1), (str(a), 1), (str(a), 2), (str(a), 3)]

"""A nacked event is not overtaken by a later event of the same contact (docs/events.md, Order: only
*repeats* may arrive after newer events). Consumers apply an event only if its sequence is above the
one they hold, so a first delivery arriving after a newer event of the contact would be dropped by
them: lost. Within a batch (rounds) and across batches (a later event waits for the batch in flight)."""

from __future__ import annotations

import contextlib

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from events.relay import BrokerUnavailable, OutboxRelay


def _drain_queue(broker, queue):
    out = []
    while True:
        method, _props, body = broker.channel.basic_get(queue, auto_ack=True)
        if method is None:
            return out
        out.append(body)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("batch_size", [1000, 1])
def test_a_nacked_event_is_not_overtaken_by_a_later_event_of_the_same_contact(api, broker, batch_size):
    import json

    contact = api.post(reverse("contact-list"), {"email": "ann@example.com"}, format="json").json()
    url = reverse("contact-activities", kwargs={"contact_pk": contact["id"]})
    # seq 2: a large activity; seq 3: a small one
    assert api.post(url, {"type": "big_one", "data": {"blob": "x" * 6000}}, format="json").status_code == 201
    assert api.post(url, {"type": "small_one"}, format="json").status_code == 201
    rows = list(OutboxEvent.objects.unscoped().filter(aggregate_id=contact["id"]).order_by("id"))
    assert [r.sequence for r in rows] == [1, 2, 3]
    sizes = [len(json.dumps(r.payload)) for r in rows]
    # A consumer's queue that refuses what does not fit (x-overflow reject-publish): the big event does
    # not fit after the first, the small third one does; the big one fits alone later.
    limit = max(sizes[1], sizes[0] + sizes[2]) + 100
    assert sizes[0] + sizes[1] > limit and sizes[1] < limit
    queue = f"test.reject.{contact['id'][:8]}"
    broker.channel.queue_declare(
        queue, exclusive=True,
        arguments={"x-max-length-bytes": limit, "x-overflow": "reject-publish"},
    )  # fmt: skip
    broker.channel.queue_bind(queue, broker.exchange, routing_key="#")

    relay = OutboxRelay(batch_size=batch_size)
    received = []
    try:
        for _ in range(5):
            with contextlib.suppress(BrokerUnavailable):  # nacked: the relay backs off meanwhile
                relay.drain()
            received += [json.loads(b) for b in _drain_queue(broker, queue)]
            if not OutboxEvent.objects.unscoped().filter(sent_at__isnull=True).exists():
                break
    finally:
        relay.publisher.close()

    sequences = [m["sequence"] for m in received if m["aggregate_id"] == contact["id"]]
    assert sorted(set(sequences)) == [1, 2, 3]
    # What a consumer following the contract keeps: each event only if above the sequence it holds.
    applied, held = [], 0
    for seq in sequences:
        if seq > held:
            applied.append(seq)
            held = seq
    assert applied == [1, 2, 3], f"delivered in order {sequences}: event 2 overtaken by 3 and dropped"

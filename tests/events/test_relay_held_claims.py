"""Review of OutboxRelay._claim's pass-over loop: held-back rows are re-claimed and passed over again
for every batch of the drain (and excluded through an ever-growing id array)."""

import random
import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from events.relay import OutboxRelay
from tests.events.test_relay_rounds import FakePublisher, _insert, holding


@pytest.mark.django_db(transaction=True)
def test_held_back_rows_are_not_claimed_again_for_every_batch(tenant):
    """Contact a's first event is locked by another transaction; its 20 later events come first in
    the outbox, then 10 events of other contacts. batch_size=2: each of the ~6 batches that publish
    re-claims and passes over the same 20 held rows (10 extra claims each, ~66 claims in all); a
    claim that went on from where the last pass stopped needs about one claim per batch."""
    a = uuid.uuid4()
    first = _insert(tenant, a, 1)
    for sequence in range(2, 22):
        _insert(tenant, a, sequence)
    for _ in range(10):
        _insert(tenant, uuid.uuid4(), 1)
    with holding(first), CaptureQueriesContext(connection) as queries:
        publisher = FakePublisher(random.Random(0), nack_p=0, err_p=0)
        published = OutboxRelay(batch_size=2, publisher=publisher).drain()
    assert published == 10
    claims = sum("SKIP LOCKED" in q["sql"] for q in queries.captured_queries)
    # 5 publishing batches + the final empty claim + one pass over the 10 held batches.
    assert claims <= 5 + 1 + 10 + 2, claims

"""The outbox relay against the real RabbitMQ: delivered exactly once, in order, nothing lost."""

from __future__ import annotations

import collections

import pytest
from django.db import transaction
from django.urls import reverse

from contacts.models import Contact
from contacts.services import contact_create
from contacts_service.context import SYSTEM_ACTOR
from events.models import OutboxEvent
from events.relay import OutboxRelay
from tests.events.broker_helpers import make_broker


def _write_events(api, n_contacts: int = 5) -> None:
    for n in range(n_contacts):
        contact = api.post(reverse("contact-list"), {"email": f"p{n}@x.com"}, format="json").json()
        url = reverse("contact-detail", kwargs={"pk": contact["id"]})
        api.patch(url, {"first_name": "Ann"}, format="json")
        api.post(reverse("contact-add-tags", kwargs={"pk": contact["id"]}), {"tags": ["VIP"]}, format="json")
        api.patch(url, {"company": "Acme"}, format="json")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("ordered_rounds", [True, False])
def test_every_event_is_delivered_once_in_per_contact_order(api, broker, settings, ordered_rounds):
    settings.EVENTS_RELAY_ORDERED_ROUNDS = ordered_rounds
    _write_events(api)
    written = list(OutboxEvent.objects.unscoped().order_by("id"))
    assert len(written) == 20

    relay = OutboxRelay(batch_size=7)  # several batches
    try:
        assert relay.drain() == 20
        assert relay.drain() == 0
    finally:
        relay.publisher.close()

    received = broker.messages()
    assert sorted(p.message_id for p, _ in received) == sorted(str(e.event_id) for e in written)
    sequences = collections.defaultdict(list)
    for properties, body in received:
        assert properties.delivery_mode == 2 and properties.content_type == "application/json"
        assert properties.headers == {"tenant_id": body["tenant_id"], "event_type": body["event_type"]}
        assert body["event_id"] == properties.message_id
        sequences[body["aggregate_id"]].append(body["sequence"])
    assert all(seq == sorted(seq) and len(set(seq)) == len(seq) for seq in sequences.values())
    first = str(written[0].aggregate_id)
    assert [body["event_type"] for _, body in received if body["aggregate_id"] == first] == [
        "contact.created", "contact.updated", "contact.tagged", "contact.updated",
    ]  # fmt: skip
    assert not OutboxEvent.objects.unscoped().filter(sent_at__isnull=True).exists()
    assert set(OutboxEvent.objects.unscoped().values_list("attempts", flat=True)) == {1}


@pytest.mark.django_db(transaction=True)
def test_unroutable_events_are_kept_by_the_alternate_exchange(api, settings):
    broker = make_broker(binding="contact.created")
    settings.EVENTS_EXCHANGE = broker.exchange
    try:
        contact = api.post(reverse("contact-list"), {"email": "a@x.com"}, format="json").json()
        api.patch(reverse("contact-detail", kwargs={"pk": contact["id"]}), {"city": "Lyon"}, format="json")
        relay = OutboxRelay()
        relay.drain()
        relay.publisher.close()
        assert [b["event_type"] for _, b in broker.messages()] == ["contact.created"]
        kept = broker.messages(f"{broker.exchange}.unroutable")
        assert [b["event_type"] for _, b in kept] == ["contact.updated"]
    finally:
        broker.cleanup()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_transaction_leaves_no_event(tenant, broker):
    with pytest.raises(RuntimeError), transaction.atomic():
        contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "gone@x.com"})
        raise RuntimeError("the request failed after the write")
    assert not Contact.objects.unscoped().exists()
    assert not OutboxEvent.objects.unscoped().exists()
    relay = OutboxRelay()
    assert relay.drain() == 0
    relay.publisher.close()
    assert broker.messages() == []


@pytest.mark.django_db(transaction=True)
def test_two_relays_at_once_publish_each_event_once_in_order(tenant, broker):
    import threading

    from django.db import connection

    from tests.events.test_relay_failures import _seed_outbox

    _seed_outbox(tenant, 3000)
    relays = [OutboxRelay(batch_size=100) for _ in range(2)]
    errors = []

    def run(relay):
        try:
            relay.drain()
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            relay.publisher.close()
            connection.close()

    threads = [threading.Thread(target=run, args=(relay,)) for relay in relays]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    received = [p.message_id for p, _ in broker.messages()]
    in_id_order = [
        str(e) for e in OutboxEvent.objects.unscoped().order_by("id").values_list("event_id", flat=True)
    ]
    assert received == in_id_order  # no duplicates, nothing missing, outbox order kept
    assert sum(relay.stats.published for relay in relays) == 3000

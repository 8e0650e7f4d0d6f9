"""A minimal consumer of contact events, for a service keeping its own copy of contacts.

    pip install pika
    python docs/examples/consumer.py --queue newsletters.contacts --bind 'contact.#'

It declares a durable queue bound to the events exchange, dead-lettering to the service's DLX,
applies each event at most once (event_id) and in order per contact (sequence), and acks only
after applying. Replace `apply()` with your own storage (in one transaction with the dedup record).
"""

from __future__ import annotations

import argparse
import json
import logging
import os

import pika

seen_event_ids: set[str] = set()  # keep this in your database, in the transaction of apply()
last_sequence: dict[str, int] = {}  # per contact


def apply(event: dict) -> None:
    contact_id, sequence = event["aggregate_id"], event["sequence"]
    previous = last_sequence.get(contact_id, 0)
    if sequence <= previous:
        return  # older than what we have (a replay or redelivery): nothing to do
    if sequence > previous + 1 and previous:
        print(f"gap for {contact_id}: {previous} -> {sequence}; refetch GET /api/v1/contacts/{contact_id}/")
    last_sequence[contact_id] = sequence
    print(event["event_type"], contact_id, sequence, json.dumps(event["data"])[:120])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--url", default=os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
    )
    parser.add_argument("--exchange", default=os.environ.get("EVENTS_EXCHANGE", "contacts.events"))
    parser.add_argument("--queue", default="example.contacts")
    parser.add_argument("--bind", action="append", default=None, help="routing key pattern (repeatable)")
    args = parser.parse_args()

    connection = pika.BlockingConnection(pika.URLParameters(args.url))
    channel = connection.channel()
    channel.queue_declare(
        args.queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            "x-delivery-limit": 5,
            "x-dead-letter-exchange": f"{args.exchange}.dlx",
        },
    )
    for pattern in args.bind or ["contact.#"]:
        channel.queue_bind(args.queue, args.exchange, routing_key=pattern)
    channel.basic_qos(prefetch_count=100)

    def on_message(ch, method, properties, body):
        event_id = properties.message_id
        if event_id in seen_event_ids:
            ch.basic_ack(method.delivery_tag)  # duplicate (redelivery or replay)
            return
        try:
            apply(json.loads(body))
        except Exception:
            # Back to the queue, and on with the next message: the quorum queue dead-letters this one
            # after its 5th delivery (x-delivery-limit), so a bad message never stops the consumer.
            logging.exception("event %s not applied; requeued", event_id)
            ch.basic_nack(method.delivery_tag, requeue=True)
            return
        seen_event_ids.add(event_id)
        ch.basic_ack(method.delivery_tag)

    channel.basic_consume(args.queue, on_message)
    print(f"consuming {args.queue} bound to {args.exchange} with {args.bind or ['contact.#']}; Ctrl-C stops")
    try:
        channel.start_consuming()
    except KeyboardInterrupt:
        channel.stop_consuming()
    connection.close()


if __name__ == "__main__":
    main()

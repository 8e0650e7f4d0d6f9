"""RabbitMQ topology and connections (pika).

    contacts.events             topic, durable; routing key = event type; unroutable messages go to
    contacts.events.unroutable  fanout, durable -> queue contacts.events.unroutable (kept, not dropped)
    contacts.events.dlx         topic, durable -> queue contacts.events.dead-letter; consumers point
                                their queues' x-dead-letter-exchange here

Declaring is idempotent: the same names and arguments every time.
"""

from __future__ import annotations

import pika
from django.conf import settings

USER_EVENTS = ("user.created", "user.updated", "user.deleted")


class BrokerConfigError(ValueError):
    """RABBITMQ_URL cannot be read as an AMQP URL (a retry cannot help: the commands stop with it)."""


def connection_parameters(url: str | None = None, *, timeout: float = 10.0) -> pika.URLParameters:
    try:
        params = pika.URLParameters(url or settings.RABBITMQ_URL)
    except (ValueError, IndexError, TypeError) as exc:  # pika's own errors for a bad port, option...
        raise BrokerConfigError(f"RABBITMQ_URL is not a usable AMQP URL: {exc}") from exc
    params.socket_timeout = timeout
    params.blocked_connection_timeout = timeout * 3
    params.connection_attempts = 1
    params.retry_delay = 0
    params.heartbeat = 30
    params.client_properties = {"connection_name": f"{settings.EVENTS_SOURCE}"}
    return params


def unroutable_exchange(exchange: str) -> str:
    return f"{exchange}.unroutable"


def dead_letter_exchange(exchange: str) -> str:
    return f"{exchange}.dlx"


def declare_topology(channel, exchange: str | None = None) -> dict[str, str]:
    """Declare the events exchange with its alternate and dead-letter exchanges and their queues."""
    exchange = exchange or settings.EVENTS_EXCHANGE
    unroutable, dlx = unroutable_exchange(exchange), dead_letter_exchange(exchange)
    channel.exchange_declare(unroutable, exchange_type="fanout", durable=True)
    channel.queue_declare(unroutable, durable=True)
    channel.queue_bind(unroutable, unroutable)
    channel.exchange_declare(dlx, exchange_type="topic", durable=True)
    channel.queue_declare(f"{exchange}.dead-letter", durable=True)
    channel.queue_bind(f"{exchange}.dead-letter", dlx, routing_key="#")
    channel.exchange_declare(
        exchange, exchange_type="topic", durable=True, arguments={"alternate-exchange": unroutable}
    )
    return {"exchange": exchange, "unroutable": unroutable, "dead_letter_exchange": dlx}


def declare_user_events_queue(channel, exchange: str | None = None) -> str:
    """The queue consume_events reads: the auth service's user events, dead-lettered to our DLX
    after EVENTS_CONSUMER_MAX_DELIVERIES deliveries (a quorum queue counts them)."""
    exchange = exchange or settings.EVENTS_EXCHANGE
    queue = settings.AUTH_EVENTS_QUEUE
    channel.exchange_declare(settings.AUTH_EVENTS_EXCHANGE, exchange_type="topic", durable=True)
    channel.queue_declare(
        queue,
        durable=True,
        arguments={
            "x-queue-type": "quorum",
            # RabbitMQ dead-letters a message returned more than the limit: N failed deliveries.
            "x-delivery-limit": max(0, settings.EVENTS_CONSUMER_MAX_DELIVERIES - 1),
            "x-dead-letter-exchange": dead_letter_exchange(exchange),
        },
    )
    for routing_key in USER_EVENTS:
        channel.queue_bind(queue, settings.AUTH_EVENTS_EXCHANGE, routing_key=routing_key)
    return queue

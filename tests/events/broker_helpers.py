"""A throwaway topology on the real RabbitMQ for one test: its own exchange and a queue bound to it."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import pika

from events.broker import connection_parameters, declare_topology


@dataclass
class TestBroker:
    conn: pika.BlockingConnection
    channel: object
    exchange: str
    queue: str

    def messages(self, queue: str | None = None) -> list[tuple[pika.BasicProperties, dict]]:
        """Everything waiting in the queue, in order (acknowledged as read)."""
        got = []
        while True:
            method, properties, body = self.channel.basic_get(queue or self.queue, auto_ack=True)
            if method is None:
                return got
            got.append((properties, json.loads(body)))

    def cleanup(self) -> None:
        channel = self.channel
        for name in (f"{self.exchange}.unroutable", f"{self.exchange}.dead-letter"):
            channel.queue_delete(name)
        for name in (self.exchange, f"{self.exchange}.unroutable", f"{self.exchange}.dlx"):
            channel.exchange_delete(name)
        self.conn.close()


def make_broker(url: str | None = None, binding: str = "#") -> TestBroker:
    exchange = f"test.contacts.{uuid.uuid4().hex[:10]}"
    conn = pika.BlockingConnection(connection_parameters(url))
    channel = conn.channel()
    declare_topology(channel, exchange)
    queue = channel.queue_declare("", exclusive=True).method.queue
    channel.queue_bind(queue, exchange, routing_key=binding)
    return TestBroker(conn, channel, exchange, queue)

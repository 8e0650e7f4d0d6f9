"""Declare the RabbitMQ topology (idempotent): events exchange, alternate and dead-letter exchanges."""

import pika
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.broker import (
    BrokerConfigError,
    connection_parameters,
    declare_topology,
    declare_user_events_queue,
)


class Command(BaseCommand):
    help = "Declare the events exchange, its alternate (unroutable) and dead-letter exchanges, and queues."

    def add_arguments(self, parser):
        parser.add_argument("--exchange", default=None, help="Events exchange (default: EVENTS_EXCHANGE).")
        parser.add_argument(
            "--without-consumer-queue",
            action="store_true",
            help="Do not declare the queue consume_events reads (auth service user events).",
        )

    def handle(self, *args, exchange=None, without_consumer_queue=False, **options):
        if not settings.RABBITMQ_URL:
            raise CommandError("RABBITMQ_URL is not set: there is no broker to set up.")
        try:
            connection_parameters()
        except BrokerConfigError as exc:
            raise CommandError(str(exc)) from exc
        try:
            conn = pika.BlockingConnection(connection_parameters())
        except pika.exceptions.AMQPError as exc:
            raise CommandError(f"Cannot connect to RabbitMQ: {exc!r}") from exc
        try:
            channel = conn.channel()
            names = declare_topology(channel, exchange)
            if not without_consumer_queue:
                names["consumer_queue"] = declare_user_events_queue(channel, exchange)
        except pika.exceptions.AMQPError as exc:
            raise CommandError(f"RabbitMQ refused the topology: {exc!r}") from exc
        finally:
            if conn.is_open:
                conn.close()
        for role, name in names.items():
            self.stdout.write(f"{role}: {name}")

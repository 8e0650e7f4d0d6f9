"""Publish the outbox to RabbitMQ with publisher confirms (see events/relay.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from events.broker import BrokerConfigError, connection_parameters
from events.relay import BrokerUnavailable, OutboxRelay


class Command(BaseCommand):
    help = "Relay unsent outbox events to RabbitMQ; runs until stopped (SIGTERM), or drains once with --once."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Publish everything pending, then exit.")
        parser.add_argument(
            "--batch-size", type=int, default=None, help="Rows per batch (EVENTS_RELAY_BATCH_SIZE)."
        )

    def handle(self, *args, once=False, batch_size=None, **options):
        if not settings.RABBITMQ_URL:
            raise CommandError("RABBITMQ_URL is not set: events stay in the outbox until it is.")
        try:
            connection_parameters()
        except BrokerConfigError as exc:
            raise CommandError(str(exc)) from exc
        if connection.vendor != "postgresql":
            raise CommandError("The relay needs PostgreSQL (SKIP LOCKED claims, advisory lock).")
        if batch_size is not None and not 1 <= batch_size <= 10_000:
            raise CommandError("--batch-size must be between 1 and 10000.")
        relay = OutboxRelay(batch_size=batch_size)
        relay.install_signal_handlers()
        try:
            if once:
                try:
                    relay.drain()
                except BrokerUnavailable as exc:
                    raise CommandError(f"RabbitMQ unavailable: {exc}") from exc
                except DatabaseError as exc:
                    raise CommandError(f"Database unavailable: {exc}") from exc
            else:
                relay.run()
        finally:
            relay.publisher.close()
        self.stdout.write(f"published {relay.stats.published} events in {relay.stats.batches} batches")

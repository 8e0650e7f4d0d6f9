"""Consume the auth service's user events into the local user cache (see events/consumer.py)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from events.broker import BrokerConfigError, connection_parameters
from events.consumer import BrokerUnavailable, ConsumerMisconfigured, DatabaseUnavailable, UserEventsConsumer


class Command(BaseCommand):
    help = (
        "Apply the auth service's user.created/updated/deleted events to the local users; runs until "
        "stopped (SIGTERM/SIGINT), or drains the queue and exits with --once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Process what is in the queue now, then exit."
        )
        parser.add_argument(
            "--idle-timeout",
            type=float,
            default=1.0,
            help="With --once: seconds without a message after which the queue is drained (default 1).",
        )

    def handle(self, *args, once=False, idle_timeout=1.0, **options):
        if not settings.RABBITMQ_URL:
            raise CommandError("RABBITMQ_URL is not set: there is no queue to consume.")
        try:
            connection_parameters()
        except BrokerConfigError as exc:
            raise CommandError(str(exc)) from exc
        if not 0 < idle_timeout <= 3600:
            raise CommandError("--idle-timeout must be between 0 and 3600 seconds.")
        consumer = UserEventsConsumer(idle_timeout=idle_timeout)
        consumer.install_signal_handlers()
        try:
            consumer.run(once=once)
        except BrokerUnavailable as exc:
            raise CommandError(f"RabbitMQ unavailable: {exc}") from exc
        except DatabaseUnavailable as exc:
            raise CommandError(f"Database unavailable: {exc}") from exc
        except ConsumerMisconfigured as exc:
            raise CommandError(str(exc)) from exc
        stats = consumer.stats
        self.stdout.write(
            ", ".join(
                f"{stats[key]} {key}" for key in ("applied", "duplicate", "stale", "rejected", "failed")
            )
        )

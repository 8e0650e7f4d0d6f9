"""Celery beat tasks: deliver outbox stragglers without a relay process, prune sent events."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import connection

from events.relay import BrokerUnavailable, OutboxRelay, outbox_prune

logger = logging.getLogger(__name__)


@shared_task(ignore_result=True)
def relay_stragglers(max_seconds: float = 50.0) -> int:
    """Publish pending events for up to max_seconds, unless a relay is publishing right now (the
    publishing lock is taken): then there is nothing to do. Returns how many were published."""
    if not settings.RABBITMQ_URL or connection.vendor != "postgresql":
        return 0
    relay = OutboxRelay()
    try:
        return relay.drain(max_seconds=max_seconds, wait_for_lock=False)
    except BrokerUnavailable as exc:
        logger.warning("outbox stragglers not relayed: RabbitMQ unavailable (%s)", exc)
        return 0
    finally:
        relay.publisher.close()


@shared_task(ignore_result=True)
def prune_outbox() -> int:
    """Sent outbox rows, and consumers' processed-message records, older than EVENTS_RETENTION_DAYS."""
    from datetime import timedelta

    from django.utils import timezone

    from events.models import ProcessedMessage

    cutoff = timezone.now() - timedelta(days=settings.EVENTS_RETENTION_DAYS)
    ProcessedMessage.objects.filter(processed_at__lt=cutoff).delete()
    if connection.vendor != "postgresql":
        return 0
    return outbox_prune()

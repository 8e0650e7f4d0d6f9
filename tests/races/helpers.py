"""Run callables at the same time, each in its own thread with its own DB connection (tests/races)."""

import threading
from collections.abc import Callable

from django.db import connection
from django.urls import get_resolver


def run_together(*targets: Callable[[], object], timeout: float = 30) -> tuple[list, list[BaseException]]:
    """Start every target at once (a barrier); return (results in target order, errors raised)."""
    get_resolver().url_patterns  # noqa: B018 (load the URLconf once, before the threads race to)
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)
    errors: list[BaseException] = []

    def body(index: int, target: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[index] = target()
        except BaseException as exc:  # reported by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=pair) for pair in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results, errors


def assert_sequences_gap_free(contact_ids) -> None:
    from contacts.models import Contact
    from events.models import OutboxEvent

    for contact_id in contact_ids:
        sequences = list(
            OutboxEvent.objects.unscoped()
            .filter(aggregate_id=contact_id)
            .order_by("sequence")
            .values_list("sequence", flat=True)
        )
        final = Contact.objects.unscoped().get(pk=contact_id).event_sequence
        assert sequences == list(range(1, final + 1)), (contact_id, sequences, final)

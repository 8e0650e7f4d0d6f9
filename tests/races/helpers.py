"""Run callables at the same time, each in its own thread with its own DB connection (tests/races)."""

import threading
import time
import uuid
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


def two_contacts(tenant):
    """(primary, other): two live contacts to merge."""
    from contacts import services
    from contacts_service.context import SYSTEM_ACTOR, tenant_context

    with tenant_context(tenant):
        primary = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "p@example.com"})
        other = services.contact_create(tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "o@example.com"})
    return primary, other


def merge_holding_locks(tenant, primary, other, locked: threading.Event) -> Callable[[], object]:
    """A merge of `other` into `primary` that takes its first step (both contacts locked in id order),
    sets `locked`, holds them a second (the racing request starts and waits), then merges."""

    def merge():
        from django.db import transaction

        from contacts import services
        from contacts.models import Contact
        from contacts_service.context import SYSTEM_ACTOR, tenant_context

        with tenant_context(tenant), transaction.atomic():
            ids = sorted([primary.pk, other.pk])
            list(Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=ids).order_by("pk"))
            locked.set()
            time.sleep(1)
            services.contact_merge(
                tenant=tenant, actor=SYSTEM_ACTOR, primary_id=primary.pk, other_ids=[other.pk]
            )

    return merge


def undo_holding_locks(tenant, merge, locked: threading.Event, *, contacts: bool = True) -> Callable[[], int]:
    """An undo of `merge` that takes its first steps (the merge row; with `contacts`, its contacts in id
    order too), sets `locked`, holds them a second, then undoes; returns 200 or the refusal's status."""

    def undo() -> int:
        from django.db import transaction

        from contacts.models import Contact, Merge
        from contacts.services.merge_undo import merge_undo
        from contacts_service.context import SYSTEM_ACTOR, tenant_context
        from contacts_service.errors import ServiceError

        with tenant_context(tenant), transaction.atomic():
            list(Merge.objects.for_tenant(tenant).select_for_update().filter(pk=merge.pk))
            if contacts:
                ids = sorted([merge.primary_id, *(uuid.UUID(str(i)) for i in merge.merged_ids)])
                list(Contact.objects.for_tenant(tenant).select_for_update().filter(pk__in=ids).order_by("pk"))
            locked.set()
            time.sleep(1)
            try:
                merge_undo(tenant=tenant, actor=SYSTEM_ACTOR, merge_id=merge.pk)
            except ServiceError as exc:  # a 409/404 is an acceptable answer
                return exc.status_code
        return 200

    return undo


def backend_pid() -> int:
    """This thread's PostgreSQL backend (for wait_until_blocked)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def deadlock_in(results, errors) -> list[str]:
    """Every deadlock reported: an exception in a thread, or a 500 response's body."""
    found = [repr(e) for e in errors if "deadlock" in repr(e).lower()]
    for r in results:
        if isinstance(r, tuple) and r and r[0] == 500:
            found.append(repr(r))
        if isinstance(r, str) and "deadlock" in r.lower():
            found.append(r)
    return found


def call(fn):
    """fn() in the thread; its exception as its result (so every side's outcome is kept)."""
    try:
        return fn()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def post(client, url, data=None):
    client.raise_request_exception = False  # an unhandled error is the user's 500
    response = client.post(url, data or {}, format="json")
    return response.status_code, (response.content[:300] if response.status_code == 500 else response.json())


def wait_until_blocked(pid_holder: dict, key: str, timeout: float = 10) -> None:
    """Wait until the backend whose pid is pid_holder[key] waits on a lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pid = pid_holder.get(key)
        if pid is not None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid])
                row = cursor.fetchone()
            if row and row[0] == "Lock":
                return
        time.sleep(0.02)
    raise AssertionError(f"{key} never blocked")

"""Concurrent writes to one contact: no lost update, gap-free per-contact event sequence."""

import threading

import pytest
from django.db import connection

from contacts import services
from contacts.models import Contact
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from events.models import OutboxEvent
from tests.factories import TenantFactory


@pytest.mark.django_db(transaction=True)
def test_concurrent_updates_each_get_their_own_sequence_and_none_is_lost():
    tenant = TenantFactory()
    with tenant_context(tenant):
        contact = services.contact_create(
            tenant=tenant, actor=SYSTEM_ACTOR, data={"email": "race@example.com"}
        )
    workers = 8
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def update(n: int) -> None:
        try:
            barrier.wait()
            with tenant_context(tenant):
                services.contact_update(
                    tenant=tenant,
                    actor=SYSTEM_ACTOR,
                    contact_id=contact.pk,
                    data={"attributes": {}, "city": f"City {n}", "company": f"Co {n}"},
                )
        except BaseException as exc:  # every failure is reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=update, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    events = list(OutboxEvent.objects.unscoped().filter(aggregate_id=contact.pk).order_by("sequence"))
    assert [e.sequence for e in events] == list(range(1, workers + 2))
    final = Contact.objects.unscoped().get(pk=contact.pk)
    assert final.event_sequence == workers + 1
    # the last event's snapshot is the stored contact: no update was overwritten by a stale one
    assert events[-1].payload["data"]["contact"]["city"] == final.city
    assert events[-1].payload["data"]["contact"]["company"] == final.company

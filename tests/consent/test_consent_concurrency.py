"""Two browsers confirming the same double opt-in link at the same moment; two callers creating the
same purpose at once."""

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from consent.models import ConsentPurpose, ConsentRecord
from events.models import OutboxEvent
from tests.factories import ContactFactory


def concurrently(*calls: Callable[[], object]) -> tuple[list, list[BaseException]]:
    """Run the calls in threads released together; each thread closes its database connection."""
    barrier = threading.Barrier(len(calls))
    answers: list = []
    errors: list[BaseException] = []

    def run(call) -> None:
        try:
            barrier.wait()
            answers.append(call())
        except BaseException as exc:  # every failure is reported by the caller's assertion
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("channel", ["email", "sms", "whatsapp"])
def test_two_concurrent_confirmations_of_one_token_grant_once(api, tenant, channel):
    contact = ContactFactory(tenant=tenant, email="race@example.com")
    started = api.post(
        reverse("contact-consents", kwargs={"contact_pk": contact.pk}),
        {"channel": channel, "purpose": "marketing", "status": "pending"},
        format="json",
    )
    assert started.status_code == 201, started.json()
    url = reverse("consent-confirm", kwargs={"token": started.json()["confirmation"]["token"]})

    def confirm():
        response = APIClient().get(url)
        return response.status_code, response.json().get("code")

    answers, errors = concurrently(confirm, confirm)

    assert errors == []
    assert sorted(answers, key=lambda a: a[0]) == [(200, None), (409, "token_used")]
    assert ConsentRecord.objects.unscoped().filter(contact=contact, status="granted").count() == 1
    changes = [
        (e.payload["data"]["old"], e.payload["data"]["new"])
        for e in OutboxEvent.objects.unscoped()
        .filter(aggregate_id=contact.pk, event_type="contact.consent_changed")
        .order_by("sequence")
    ]
    assert changes == [(None, "pending"), ("pending", "granted")]


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_creations_of_one_purpose_make_one(client_for, tenant):
    clients = [client_for(tenant), client_for(tenant)]
    for key in [f"p{n}" for n in range(5)]:

        def create(client, key=key):
            response = client.post(reverse("consent-purpose-list"), {"key": key}, format="json")
            return response.status_code, [e["field"] for e in response.json().get("errors", [])]

        answers, errors = concurrently(*(lambda c=c: create(c) for c in clients))

        assert errors == []
        assert sorted(answers) == [(201, []), (400, ["key"])], answers
    assert ConsentPurpose.objects.unscoped().filter(tenant=tenant, key__startswith="p").count() == 5


@pytest.mark.django_db(transaction=True)
def test_a_purpose_cannot_be_deleted_while_a_statement_using_it_is_being_recorded(tenant):
    from consent import services
    from contacts_service.context import SYSTEM_ACTOR
    from contacts_service.errors import Conflict

    purpose = services.purpose_create(tenant=tenant, key="surveys")
    contact = ContactFactory(tenant=tenant)
    recorded, deleting = threading.Event(), threading.Event()

    def record():
        with transaction.atomic():
            services.consent_record(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=contact.pk, channel="email",
                                    purpose="surveys", status="granted")  # fmt: skip
            recorded.set()
            deleting.wait(5)
            time.sleep(0.3)  # the delete is waiting for this transaction (or has gone through)
        return "recorded"

    def delete():
        recorded.wait(5)
        deleting.set()
        try:
            services.purpose_delete(tenant=tenant, purpose_id=purpose.pk)
        except Conflict as exc:
            return exc.code
        return "deleted"

    answers, errors = concurrently(record, delete)

    assert errors == []
    assert sorted(answers) == ["in_use", "recorded"]
    assert ConsentPurpose.objects.unscoped().filter(pk=purpose.pk).exists()

"""Two browsers confirming the same double opt-in link at the same moment; two callers creating the
same purpose at once."""

import threading
from collections.abc import Callable

import pytest
from django.db import connection
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

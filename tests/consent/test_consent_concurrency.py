"""Two browsers confirming the same double opt-in link at the same moment."""

import threading

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from consent.models import ConsentRecord
from events.models import OutboxEvent
from tests.factories import ContactFactory


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
    barrier = threading.Barrier(2)
    answers: list[tuple[int, str | None]] = []
    errors: list[BaseException] = []

    def confirm() -> None:
        try:
            barrier.wait()
            response = APIClient().get(url)
            answers.append((response.status_code, response.json().get("code")))
        except BaseException as exc:  # every failure is reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

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

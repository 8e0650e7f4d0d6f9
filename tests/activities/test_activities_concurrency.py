"""Concurrent batches reporting the same activities (a retried call racing the first)."""

import threading

import pytest
from django.db import connection

from events.models import Activity, OutboxEvent
from tests.factories import ContactFactory

from .test_activities import BATCH


def post_concurrently(clients, bodies) -> tuple[list, list[BaseException]]:
    barrier = threading.Barrier(len(bodies))
    answers: list = []
    errors: list[BaseException] = []

    def post(client, body) -> None:
        try:
            barrier.wait()
            response = client.post(BATCH, body, format="json")
            answers.append((response.status_code, response.json()))
        except BaseException as exc:  # every failure is reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=pair) for pair in zip(clients, bodies, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers, errors


def assert_each_key_once(keys: list[str]) -> None:
    recorded = list(Activity.objects.unscoped().values_list("idempotency_key", flat=True))
    assert sorted(recorded) == sorted(keys)
    events = OutboxEvent.objects.unscoped().filter(event_type="contact.activity_recorded")
    assert sorted(e.payload["data"]["idempotency_key"] for e in events) == sorted(keys)


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_batches_with_the_same_keys_record_each_key_once(client_for, tenant):
    contacts = [ContactFactory(tenant=tenant) for _ in range(20)]
    keys = [f"send-1-{c.pk}" for c in contacts]
    body = {"activities": [{"type": "email_opened", "email": c.email, "idempotency_key": key}
                           for c, key in zip(contacts, keys, strict=True)]}  # fmt: skip
    answers, errors = post_concurrently([client_for(tenant), client_for(tenant)], [body, body])

    assert errors == []
    assert [status for status, _ in answers] == [200, 200], answers
    assert sorted((a["created"], a["duplicates"]) for _, a in answers) == [(0, 20), (20, 0)]
    assert_each_key_once(keys)


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_using_one_key_for_different_contacts_record_it_once(client_for, tenant):
    ann, bob = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    keys = [f"form-{n}" for n in range(5)]
    for key in keys:  # the contacts' row locks do not serialise these calls: the keys must
        bodies = [
            {"activities": [{"type": "form_submitted", "contact_id": str(c.pk), "idempotency_key": key}]}
            for c in (ann, bob)
        ]
        answers, errors = post_concurrently([client_for(tenant), client_for(tenant)], bodies)

        assert errors == []
        assert [status for status, _ in answers] == [200, 200], answers
        assert sorted((a["created"], a["duplicates"]) for _, a in answers) == [(0, 1), (1, 0)]
    assert_each_key_once(keys)


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_the_same_keys_in_another_order_do_not_deadlock(client_for, tenant):
    ann, bob = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    keys = [f"k{n:03}" for n in range(100)]
    for round_ in range(3):
        round_keys = [f"{key}-{round_}" for key in keys]
        bodies = [
            {
                "activities": [
                    {"type": "email_opened", "contact_id": str(c.pk), "idempotency_key": k} for k in order
                ]
            }
            for c, order in ((ann, round_keys), (bob, round_keys[::-1]))
        ]
        answers, errors = post_concurrently([client_for(tenant), client_for(tenant)], bodies)

        assert errors == []
        assert [status for status, _ in answers] == [200, 200], answers
    assert_each_key_once([f"{key}-{round_}" for key in keys for round_ in range(3)])


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_with_several_sources_do_not_deadlock(client_for, tenant):
    ann, bob = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    first, second = sorted([ann, bob], key=lambda c: c.pk)

    def body(a, b):  # source "a" reports about `a`, source "b" about `b`
        return {"activities": [{"type": "page_viewed", "contact_id": str(a.pk), "source": "a"},
                               {"type": "page_viewed", "contact_id": str(b.pk), "source": "b"}]}  # fmt: skip

    for _ in range(5):
        answers, errors = post_concurrently(
            [client_for(tenant), client_for(tenant)], [body(first, second), body(second, first)]
        )
        assert errors == []
        assert [status for status, _ in answers] == [200, 200], answers
    assert Activity.objects.unscoped().count() == 20

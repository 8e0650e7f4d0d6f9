"""GET /api/v1/events/ (the tenant's outbox), replay, health lag and the straggler task."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from events.models import OutboxEvent
from events.relay import OutboxRelay
from events.tasks import relay_stragglers
from tests.events.broker_helpers import make_broker

EVENTS = reverse("event-list")
REPLAY = reverse("event-replay")


def _contact(api, email):
    return api.post(reverse("contact-list"), {"email": email}, format="json").json()


@pytest.mark.django_db
def test_events_list_shows_only_the_tenants_events_with_status_and_filters(client_for, tenant, other_tenant):
    api = client_for(tenant)
    ann = _contact(api, "ann@x.com")
    api.patch(reverse("contact-detail", kwargs={"pk": ann["id"]}), {"city": "Lyon"}, format="json")
    _contact(client_for(other_tenant), "theirs@x.com")
    OutboxEvent.objects.unscoped().filter(tenant=tenant, event_type="contact.created").update(
        sent_at=timezone.now(), attempts=1
    )
    OutboxEvent.objects.unscoped().filter(tenant=tenant, event_type="contact.updated").update(
        attempts=2, last_error="nacked by RabbitMQ"
    )

    page = api.get(EVENTS).json()
    assert page["count"] == 2
    assert [(e["event_type"], e["status"]) for e in page["results"]] == [
        ("contact.updated", "failed"), ("contact.created", "sent"),
    ]  # fmt: skip
    assert page["results"][0]["payload"]["data"]["contact_id"] == ann["id"]
    assert api.get(EVENTS, {"status": "sent"}).json()["count"] == 1
    assert api.get(EVENTS, {"status": "failed"}).json()["results"][0]["last_error"] == "nacked by RabbitMQ"
    assert api.get(EVENTS, {"event_type": "contact.created,contact.deleted"}).json()["count"] == 1
    assert api.get(EVENTS, {"contact": ann["id"]}).json()["count"] == 2
    assert api.get(EVENTS, {"status": "lost"}).status_code == 400
    assert api.get(EVENTS, {"created_after": "yesterday"}).status_code == 400
    theirs = OutboxEvent.objects.unscoped().get(tenant=other_tenant)
    assert api.get(reverse("event-detail", kwargs={"pk": theirs.pk})).status_code == 404


@pytest.mark.django_db
def test_events_need_events_view_and_replay_needs_events_replay(client_for, tenant):
    marketing = client_for(tenant, "marketing_manager")
    assert marketing.get(EVENTS).status_code == 403
    body = {"created_after": "2026-01-01T00:00:00Z", "created_before": "2026-01-02T00:00:00Z"}
    assert marketing.post(REPLAY, body, format="json").status_code == 403
    assert client_for(tenant, "contacts_manager").post(REPLAY, body, format="json").json() == {"replayed": 0}


@pytest.mark.django_db
def test_replay_marks_a_range_unsent_for_this_tenant_only(client_for, tenant, other_tenant):
    api, theirs = client_for(tenant), client_for(other_tenant)
    for n in range(3):
        _contact(api, f"p{n}@x.com")
    _contact(theirs, "t@x.com")
    OutboxEvent.objects.unscoped().update(sent_at=timezone.now(), attempts=1)
    now = timezone.now()
    body = {
        "created_after": (now - dt.timedelta(hours=1)).isoformat(),
        "created_before": (now + dt.timedelta(hours=1)).isoformat(),
    }
    OutboxEvent.objects.unscoped().update(created_at=now - dt.timedelta(minutes=30))
    assert api.post(
        REPLAY, body | {"created_after": (now - dt.timedelta(hours=2)).isoformat()}, format="json"
    ).json() == {"replayed": 3}
    health = api.get("/api/health/")  # a replay of old events is not relay lag
    assert health.status_code == 200 and health.json()["checks"]["relay"]["lag_seconds"] < 60
    assert OutboxEvent.objects.unscoped().filter(tenant=tenant, sent_at__isnull=True).count() == 3
    assert OutboxEvent.objects.unscoped().filter(tenant=other_tenant, sent_at__isnull=True).count() == 0
    for bad, field in [
        ({**body, "created_before": body["created_after"]}, "created_before"),
        ({"created_after": "soon", "created_before": body["created_before"]}, "created_after"),
        ({**body, "contact_id": "x"}, "contact_id"),
        ({**body, "everything": True}, "everything"),
    ]:
        response = api.post(REPLAY, bad, format="json")
        assert response.status_code == 400
        assert response.json()["errors"][0]["field"] == field


@pytest.mark.django_db(transaction=True)
def test_replayed_events_are_published_again_with_the_same_event_ids(api, settings):
    broker = make_broker()
    settings.EVENTS_EXCHANGE = broker.exchange
    relay = OutboxRelay()
    try:
        _contact(api, "a@x.com")
        relay.drain()
        first = [p.message_id for p, _ in broker.messages()]
        now = timezone.now()
        body = {
            "created_after": (now - dt.timedelta(hours=1)).isoformat(),
            "created_before": (now + dt.timedelta(hours=1)).isoformat(),
        }
        assert api.post(REPLAY, body, format="json").json() == {"replayed": 1}
        relay.drain()
        assert [p.message_id for p, _ in broker.messages()] == first
    finally:
        relay.publisher.close()
        broker.cleanup()


@pytest.mark.django_db
def test_health_turns_unhealthy_when_the_relay_lags(anon, api, settings):
    _contact(api, "a@x.com")
    assert anon.get("/api/health/").json()["checks"]["relay"]["status"] == "ok"
    OutboxEvent.objects.unscoped().update(created_at=timezone.now() - dt.timedelta(minutes=10))
    settings.EVENTS_LAG_UNHEALTHY_SECONDS = 300
    response = anon.get("/api/health/")
    assert response.status_code == 503
    relay = response.json()["checks"]["relay"]
    assert relay["status"] == "lagging" and relay["pending"] == 1 and relay["lag_seconds"] >= 600


@pytest.mark.django_db(transaction=True)
def test_the_beat_task_delivers_stragglers_without_a_relay_process(api, settings):
    broker = make_broker()
    settings.EVENTS_EXCHANGE = broker.exchange
    try:
        _contact(api, "a@x.com")
        assert relay_stragglers.delay().get() == 1
        assert [b["event_type"] for _, b in broker.messages()] == ["contact.created"]
        assert not OutboxEvent.objects.unscoped().filter(sent_at__isnull=True).exists()
    finally:
        broker.cleanup()


@pytest.mark.django_db
def test_sent_events_are_pruned_after_the_retention_period(api, settings):
    from events.relay import outbox_prune

    for n in range(3):
        _contact(api, f"p{n}@x.com")
    old, recent, unsent = OutboxEvent.objects.unscoped().order_by("id")
    OutboxEvent.objects.unscoped().filter(pk=old.pk).update(sent_at=timezone.now() - dt.timedelta(days=8))
    OutboxEvent.objects.unscoped().filter(pk=recent.pk).update(sent_at=timezone.now() - dt.timedelta(days=1))
    OutboxEvent.objects.unscoped().filter(pk=unsent.pk).update(
        created_at=timezone.now() - dt.timedelta(days=30)
    )
    settings.EVENTS_RETENTION_DAYS = 7
    assert outbox_prune() == 1
    assert set(OutboxEvent.objects.unscoped().values_list("pk", flat=True)) == {recent.pk, unsent.pk}

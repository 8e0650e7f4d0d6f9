"""GET /contacts/{id}/timeline/: every event of the contact, newest first, filterable."""

import datetime as dt

from django.urls import reverse
from django.utils import timezone

from tests.factories import ContactFactory


def timeline(api, contact, **params):
    response = api.get(reverse("contact-timeline", kwargs={"pk": contact.pk}), params)
    assert response.status_code == 200, response.json()
    return [(e["event_type"], e["title"]) for e in response.json()["results"]]


def test_timeline_pages_every_event_newest_first_with_filters(api, tenant, client_for, other_tenant):
    created = api.post(reverse("contact-list"), {"email": "tim@example.com"}, format="json").json()
    contact = type("C", (), {"pk": created["id"]})
    api.patch(reverse("contact-detail", kwargs={"pk": contact.pk}), {"city": "Lyon"}, format="json")
    api.post(reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": ["VIP"]}, format="json")
    api.post(
        reverse("contact-consents", kwargs={"contact_pk": contact.pk}),
        {"channel": "email", "purpose": "marketing", "status": "granted"},
        format="json",
    )
    week_ago = timezone.now() - dt.timedelta(days=7)
    activities = reverse("contact-activities", kwargs={"contact_pk": contact.pk})
    api.post(activities, {"type": "email_opened", "occurred_at": week_ago.isoformat()}, format="json")
    api.post(activities, {"type": "order_placed", "title": "Order #1"}, format="json")

    everything = timeline(api, contact)
    assert [t for t, _ in everything] == [
        "contact.activity_recorded",  # order, now
        "contact.consent_changed",
        "contact.tagged",
        "contact.updated",
        "contact.created",
        "contact.activity_recorded",  # opened a week ago: placed at its occurred_at
    ]
    assert timeline(api, contact, type="contact.tagged,contact.updated") == [
        ("contact.tagged", everything[2][1]),
        ("contact.updated", everything[3][1]),
    ]
    assert [t for t, _ in timeline(api, contact, type="contact.consent*")] == ["contact.consent_changed"]
    assert timeline(api, contact, activity_type="order_placed") == [("contact.activity_recorded", "Order #1")]
    day_ago = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert [t for t, _ in timeline(api, contact, occurred_before=day_ago)] == ["contact.activity_recorded"]
    assert len(timeline(api, contact, occurred_after=day_ago)) == 5

    bad = api.get(reverse("contact-timeline", kwargs={"pk": contact.pk}), {"occurred_after": "yesterday"})
    assert bad.status_code == 400
    assert [e["field"] for e in bad.json()["errors"]] == ["occurred_after"]
    stranger = client_for(other_tenant)
    assert stranger.get(reverse("contact-timeline", kwargs={"pk": contact.pk})).status_code == 404


def test_timeline_of_a_contact_shows_only_its_own_events(api, tenant):
    ann, bob = ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)
    api.post(reverse("contact-activities", kwargs={"contact_pk": bob.pk}), {"type": "x_y"}, format="json")
    assert timeline(api, ann) == []


def test_more_types_than_allowed_are_a_400_not_ignored(api, tenant):
    contact = ContactFactory(tenant=tenant)
    api.post(reverse("contact-activities", kwargs={"contact_pk": contact.pk}), {"type": "x_y"}, format="json")
    url = reverse("contact-timeline", kwargs={"pk": contact.pk})
    for param, parts in (
        ("type", [f"contact.t{n}" for n in range(20)] + ["contact.activity_recorded"]),
        ("type", [f"contact.t{n}*" for n in range(1000)]),
        ("activity_type", [f"t{n}" for n in range(20)] + ["x_y"]),
    ):
        response = api.get(url, {param: ",".join(parts)})
        assert response.status_code == 400, response.json()
        assert [e["field"] for e in response.json()["errors"]] == [param]
    assert (
        len(timeline(api, contact, type=",".join([f"contact.t{n}" for n in range(19)] + ["contact.*"]))) == 1
    )

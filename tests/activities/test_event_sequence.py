"""Per contact, outbox sequences stay strictly increasing without duplicates or gaps whatever mix
of writes emits them: updates, tags, consent (with a double opt-in), single and batch activities
(several for one contact in one batch), and the segment memberships those changes move."""

import pytest
from django.urls import reverse

from contacts.models import Contact
from events.models import OutboxEvent
from tests.factories import ContactFactory


def sequences(contact_id) -> list[int]:
    """The contact's outbox sequences in outbox (publication) order."""
    return list(
        OutboxEvent.objects.unscoped()
        .filter(aggregate_id=contact_id)
        .order_by("id")
        .values_list("sequence", flat=True)
    )


@pytest.fixture
def segments(api):
    """Dynamic segments on consent, activities and tags, so changes also emit list events."""
    for name, rule in (
        ("Consenting", {"field": "consent.email.marketing", "op": "eq", "value": "granted"}),
        ("Openers", {"field": "activity", "op": "had", "value": {"type": "email_opened", "min_count": 2}}),
        ("Recently active", {"field": "last_activity_at", "op": "in_last_days", "value": 30}),
        ("VIPs", {"field": "tags", "op": "any", "value": ["VIP"]}),
    ):
        if rule["field"] == "tags":
            api.post(reverse("tag-list"), {"name": "VIP"}, format="json")
        response = api.post(
            reverse("list-list"), {"name": name, "kind": "dynamic", "rules": {"rules": [rule]}}, format="json"
        )
        assert response.status_code == 201, response.json()


def test_sequences_are_strictly_increasing_across_every_kind_of_change(api, anon, tenant, segments):
    contact_id = api.post(reverse("contact-list"), {"email": "seq@example.com"}, format="json").json()["id"]
    other = ContactFactory(tenant=tenant, email="other@example.com")
    detail = reverse("contact-detail", kwargs={"pk": contact_id})
    consents = reverse("contact-consents", kwargs={"contact_pk": contact_id})
    activities = reverse("contact-activities", kwargs={"contact_pk": contact_id})

    def ok(response, status=(200, 201, 204)):
        assert response.status_code in status, response.content
        return response

    ok(api.patch(detail, {"city": "Lyon"}, format="json"))
    ok(api.post(reverse("contact-add-tags", kwargs={"pk": contact_id}), {"tags": ["VIP"]}, format="json"))
    pending = ok(api.post(consents, {"channel": "email", "purpose": "marketing", "status": "pending"},
                          format="json")).json()  # fmt: skip
    ok(anon.get(reverse("consent-confirm", kwargs={"token": pending["confirmation"]["token"]})))
    ok(api.post(activities, {"type": "email_opened"}, format="json"))
    batch = [
        {"type": "email_opened", "contact_id": contact_id, "source": "newsletters"},
        {"type": "email_clicked", "email": "SEQ@example.com", "source": "newsletters"},
        {"type": "email_opened", "email": other.email, "source": "newsletters"},
        {"type": "page_viewed", "contact_id": contact_id, "source": "web"},
        {"type": "email_opened", "contact_id": contact_id, "idempotency_key": "k-1", "source": "web"},
    ]
    ok(api.post(reverse("activity-batch"), {"activities": batch}, format="json"))
    ok(api.post(consents, {"channel": "email", "purpose": "marketing", "status": "revoked"}, format="json"))
    ok(api.patch(detail, {"company": "Initech"}, format="json"))
    tag_id = ok(api.get(reverse("tag-list"))).json()["results"][0]["id"]
    ok(api.delete(reverse("contact-remove-tag", kwargs={"pk": contact_id, "tag_id": tag_id})))

    seen = sequences(contact_id)
    types = list(
        OutboxEvent.objects.unscoped().filter(aggregate_id=contact_id).values_list("event_type", flat=True)
    )
    assert {"contact.added_to_list", "contact.removed_from_list", "contact.activity_recorded",
            "contact.consent_changed", "contact.tagged", "contact.untagged"} <= set(types)  # fmt: skip
    assert seen == list(range(1, len(seen) + 1))
    assert Contact.objects.unscoped().get(pk=contact_id).event_sequence == len(seen)
    other_seen = sequences(other.pk)
    assert other_seen == list(range(1, len(other_seen) + 1))

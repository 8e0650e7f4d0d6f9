"""Helpers for the tests of stored segment membership."""

from django.urls import reverse

from events.models import OutboxEvent
from lists.models import ListMembership

LISTS = reverse("list-list")


def segment(api, name, *rules, operator="and"):
    response = api.post(
        LISTS,
        {"name": name, "kind": "dynamic", "rules": {"operator": operator, "rules": list(rules)}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


def static(api, name):
    response = api.post(LISTS, {"name": name}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def rule(field, op, value=None):
    return {"field": field, "op": op, "value": value} if value is not None else {"field": field, "op": op}


def is_member(contact_id, list_id) -> bool:
    return ListMembership.objects.unscoped().filter(contact_id=contact_id, contact_list_id=list_id).exists()


def list_events(contact_id, list_id, event_type) -> int:
    return sum(
        1
        for e in OutboxEvent.objects.unscoped().filter(event_type=event_type, aggregate_id=contact_id)
        if e.payload["data"]["list"]["id"] == str(list_id)
    )


def member_count(api, list_id) -> int:
    return api.get(reverse("list-detail", kwargs={"pk": list_id})).json()["member_count"]


def tag(api, contact, *names):
    response = api.post(
        reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": list(names)}, format="json"
    )
    assert response.status_code == 200, response.content
    return response


def add_members(api, list_id, *contacts):
    response = api.post(
        reverse("list-contacts", kwargs={"pk": list_id}),
        {"contact_ids": [str(c.pk) for c in contacts]},
        format="json",
    )
    assert response.status_code == 200, response.content

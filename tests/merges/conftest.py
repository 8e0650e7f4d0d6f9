"""Contacts with something in every table a merge touches, made through the API, and helpers."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import pytest
from django.urls import reverse

from events.models import OutboxEvent

CONTACTS = reverse("contact-list")
LISTS = reverse("list-list")
DUPLICATES = reverse("duplicate-list")
MERGES = reverse("merge-list")
RULES = reverse("matching-rules")


def contact_url(contact_id, action: str | None = None) -> str:
    names = {"export": "contact-gdpr-export", "erase": "contact-gdpr-erase", "tags": "contact-add-tags"}
    if action is None:
        return reverse("contact-detail", kwargs={"pk": contact_id})
    return reverse(names.get(action, f"contact-{action}"), kwargs={"pk": contact_id})


def merge_url(primary_id) -> str:
    return reverse("contact-merge", kwargs={"pk": primary_id})


def preview_url(primary_id) -> str:
    return reverse("contact-merge-preview", kwargs={"pk": primary_id})


def undo_url(merge_id) -> str:
    return reverse("merge-undo", kwargs={"pk": merge_id})


def consents_url(contact_id) -> str:
    return reverse("contact-consents", kwargs={"contact_pk": contact_id})


def create(api, **data) -> dict:
    response = api.post(CONTACTS, data, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def consent(api, contact_id, channel: str, purpose: str, status: str, **extra) -> None:
    body = {"channel": channel, "purpose": purpose, "status": status, **extra}
    response = api.post(consents_url(contact_id), body, format="json")
    assert response.status_code == 201, response.json()


def tag(api, contact_id, *names: str) -> None:
    assert api.post(contact_url(contact_id, "tags"), {"tags": list(names)}, format="json").status_code == 200


def add_to_list(api, list_id, *contact_ids) -> None:
    url = reverse("list-contacts", kwargs={"pk": list_id})
    response = api.post(url, {"contact_ids": list(contact_ids)}, format="json")
    assert response.status_code == 200, response.json()


def activity(api, contact_id, kind: str, title: str) -> None:
    url = reverse("contact-activities", kwargs={"contact_pk": contact_id})
    assert api.post(url, {"type": kind, "title": title}, format="json").status_code == 201


def export(api, contact_id) -> dict:
    response = api.get(contact_url(contact_id, "export"))
    assert response.status_code == 200, response.json()
    return response.json()


def comparable(document: dict) -> dict:
    """An export without what a merge and its undo must leave behind: the export time, the contact's
    updated_at (the undo's time), the record of the merge (merges section) and the timeline/history
    rows they wrote (source "merge")."""
    doc = copy.deepcopy(document)
    del doc["exported_at"]
    del doc["contact"]["updated_at"]
    doc.pop("merges", None)
    doc["timeline"] = [t for t in doc["timeline"] if t["source"] != "merge"]
    doc["history"] = [h for h in doc["history"] if h["source"] != "merge"]
    return doc


def outbox(*contact_ids, after: int = 0) -> list[tuple[str, str, int]]:
    rows = OutboxEvent.objects.unscoped().filter(id__gt=after).order_by("id")
    if contact_ids:
        rows = rows.filter(aggregate_id__in=[str(i) for i in contact_ids])
    return [(e.event_type, str(e.aggregate_id), e.sequence) for e in rows]


def last_outbox_id() -> int:
    return OutboxEvent.objects.unscoped().order_by("-id").values_list("id", flat=True).first() or 0


@dataclass
class Trio:
    """A primary and two contacts that are the same person."""

    primary: dict
    x: dict
    y: dict
    static_list: dict
    segment: dict

    @property
    def ids(self) -> list[str]:
        return [self.primary["id"], self.x["id"], self.y["id"]]


@pytest.fixture
def trio(api) -> Trio:
    """Ann three times: different fields, identifiers, attributes, tags (one shared), a static list
    for X only, a dynamic segment on city, consent on several channels, activities, history."""
    definition = {"key": "plan", "label": "Plan", "type": "choice", "choices": ["free", "pro"]}
    assert api.post(reverse("attribute-definition-list"), definition, format="json").status_code == 201
    nick = {"key": "nick", "label": "Nickname", "type": "string"}
    assert api.post(reverse("attribute-definition-list"), nick, format="json").status_code == 201
    segment = api.post(
        LISTS,
        {"name": "Lyon", "kind": "dynamic",
         "rules": {"operator": "and", "rules": [{"field": "city", "op": "eq", "value": "Lyon"}]}},
        format="json",
    ).json()  # fmt: skip
    primary = create(
        api, email="ann@example.com", first_name="Ann", last_name="Lee", company="Acme", country="FR",
        attributes={"plan": "free"},
    )  # fmt: skip
    x = create(
        api, email="ann.lee@work.example", first_name="Ann", last_name="Lee", phone="+33612345678",
        company="Acme", city="Lyon", country="FR", external_id="crm-42",
        attributes={"plan": "pro", "nick": "Annie"},
    )  # fmt: skip
    y = create(api, phone="+447911123456", first_name="A.", last_name="Lee", source="import")
    assert api.patch(contact_url(x["id"]), {"company": "Acme Inc"}, format="json").status_code == 200
    identifier = {"channel": "whatsapp", "value": "+33612345678"}
    url = reverse("contact-identifier-list", kwargs={"contact_pk": x["id"]})
    assert api.post(url, identifier, format="json").status_code == 201
    tag(api, primary["id"], "VIP")
    tag(api, x["id"], "VIP", "Customer")
    tag(api, y["id"], "Lead")
    static_list = api.post(LISTS, {"name": "Newsletter"}, format="json").json()
    add_to_list(api, static_list["id"], x["id"])
    consent(api, primary["id"], "email", "marketing", "granted")
    consent(api, x["id"], "email", "marketing", "revoked")
    consent(api, x["id"], "sms", "marketing", "granted", ip_address="203.0.113.9")
    consent(api, y["id"], "email", "newsletter", "pending")
    activity(api, x["id"], "form_submitted", "Ann sent the form")
    activity(api, y["id"], "email_opened", "Opened: spring sale")
    return Trio(primary, x, y, static_list, segment)

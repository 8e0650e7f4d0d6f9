"""GET /contacts/{id}/export/: everything held about a contact, in one JSON document."""

import uuid

import pytest
from django.urls import reverse

from contacts import gdpr
from contacts_service.roles import Role
from tests.gdpr.conftest import (
    COMPANY,
    EMAIL,
    EXTRA_EMAIL,
    FIRST,
    LAST,
    NICKNAME,
    PHONE,
    PUSH,
    WHATSAPP,
    detail,
)


def _registered(section: str) -> bool:
    return any(s.key and s.key.split(".")[0] == section for s in gdpr.personal_data_sources())


@pytest.mark.django_db
def test_export_holds_every_section_with_the_contacts_data(api, subject):
    response = api.get(detail(subject.id, "export"))
    assert response.status_code == 200
    doc = response.json()
    assert doc["format_version"] == 1
    assert doc["exported_at"].startswith("20")
    assert doc["contact_id"] == subject.id and doc["tenant_id"] == subject.tenant_id

    contact = doc["contact"]
    assert contact["id"] == subject.id
    assert (contact["email"], contact["phone"]) == (EMAIL, PHONE)
    assert (contact["first_name"], contact["last_name"], contact["company"]) == (FIRST, LAST, COMPANY)
    assert (contact["country"], contact["city"], contact["deleted_at"]) == ("FR", "Lyon", None)
    assert contact["attributes"] == {"nickname": NICKNAME}
    assert doc["attributes"] == [
        {"key": "nickname", "label": "Nickname", "type": "string", "value": NICKNAME}
    ]

    assert sorted((i["channel"], i["value"], i["verified"]) for i in doc["identifiers"]) == [
        ("email", EXTRA_EMAIL, False),
        ("push", PUSH, False),
        ("whatsapp", WHATSAPP, False),
    ]

    [tag] = doc["tags"]
    assert (tag["name"], tag["color"]) == ("VIP", "#6B7280")
    assert tag["added_at"] and tag["added_by"] == {
        "type": "api_key",
        "id": str(api.api_key.pk),
        "label": api.api_key.display_prefix,
    }

    lists = {item["name"]: item for item in doc["lists"]}
    assert {name: item["kind"] for name, item in lists.items()} == {
        "Everyone in France": "dynamic",
        "Newsletter": "static",
    }
    assert all(uuid.UUID(item["id"]) and item["added_at"] for item in lists.values())

    # History: the same rows as GET .../history/, oldest first.
    history = api.get(detail(subject.id, "history"), {"page_size": 100}).json()
    assert [h["id"] for h in doc["history"]] == [h["id"] for h in reversed(history["results"])]
    changes = {h["field"]: (h["old_value"], h["new_value"]) for h in doc["history"] if h["old_value"]}
    assert changes["last_name"] == ("Provisional", LAST) and changes["city"] == ("Paris", "Lyon")

    # Timeline: every entry of the contact, oldest first.
    timeline = api.get(detail(subject.id, "timeline"), {"page_size": 100}).json()
    assert timeline["count"] == len(doc["timeline"])
    assert [t["id"] for t in doc["timeline"]] == [t["id"] for t in reversed(timeline["results"])]
    assert doc["timeline"][0]["event_type"] == "contact.created"
    assert {"contact.updated", "contact.tagged", "contact.added_to_list"} <= {
        t["event_type"] for t in doc["timeline"]
    }

    [log] = doc["admin_log"]
    assert log["action"] == "change" and f"Looked at {EMAIL}" in log["change_message"]

    # Consent and activities come from sources other apps register; empty until they do.
    assert "consent" in doc and "activities" in doc
    if not _registered("consent"):
        assert doc["consent"] == {}
    if not _registered("activities"):
        assert doc["activities"] == []
    assert "outbox" not in doc  # erased, not exported


@pytest.mark.django_db
def test_a_soft_deleted_contact_is_still_exported(api, subject):
    assert api.delete(detail(subject.id)).status_code == 204
    assert api.get(detail(subject.id)).status_code == 404
    response = api.get(detail(subject.id, "export"))
    assert response.status_code == 200
    doc = response.json()
    assert doc["contact"]["email"] == EMAIL and doc["contact"]["deleted_at"] is not None
    assert doc["timeline"][-1]["event_type"] == "contact.deleted"
    assert len(doc["identifiers"]) == 3


@pytest.mark.django_db
@pytest.mark.parametrize(("role", "status"), [(Role.CONTACTS_VIEWER, 403), (Role.MARKETING_MANAGER, 200),
                                              (Role.CONTACTS_MANAGER, 200)])  # fmt: skip
def test_export_needs_contacts_export(client_for, tenant, subject, role, status):
    response = client_for(tenant, role).get(detail(subject.id, "export"))
    assert response.status_code == status
    if status == 403:
        assert "contacts.export" in response.json()["message"] and "contact" not in response.json()


@pytest.mark.django_db
def test_export_of_another_tenants_or_an_unknown_or_invalid_id_is_404(client_for, other_tenant, api, subject):
    outsider = client_for(other_tenant)
    for contact_id in (subject.id, str(uuid.uuid4()), "not-a-uuid"):
        response = outsider.get(detail(contact_id, "export"))
        assert response.status_code == 404, contact_id
        assert EMAIL not in response.content.decode()
    assert api.get(detail(str(uuid.uuid4()), "export")).status_code == 404
    assert api.get(reverse("contact-list") + "not-a-uuid/export/").status_code == 404


@pytest.mark.django_db
def test_registered_sources_are_placed_by_their_key_and_dotted_keys_nest(api, subject, monkeypatch):
    # The registry as it is before the consent and activity apps register theirs.
    builtin = [s for s in gdpr._sources if not (s.key or "").startswith(("consent", "activities"))]
    monkeypatch.setattr(gdpr, "_sources", builtin)
    doc = api.get(detail(subject.id, "export")).json()
    assert (doc["consent"], doc["activities"]) == ({}, [])

    gdpr.register_personal_data(
        "consent.state",
        model="events.TimelineEntry",
        export=lambda tenant, contact_id: [{"channel": "email", "status": "granted", "of": str(contact_id)}],
    )
    gdpr.register_personal_data(
        "consent.ledger", model="events.TimelineEntry", export=lambda tenant, contact_id: [{"n": 1}]
    )
    gdpr.register_personal_data(
        "activities", model="events.TimelineEntry", export=lambda tenant, contact_id: [{"kind": "opened"}]
    )
    doc = api.get(detail(subject.id, "export")).json()
    assert doc["consent"] == {
        "state": [{"channel": "email", "status": "granted", "of": subject.id}],
        "ledger": [{"n": 1}],
    }
    assert doc["activities"] == [{"kind": "opened"}]

    with pytest.raises(ValueError, match="collides"):
        gdpr.register_personal_data("consent", model="tags.Tag", export=lambda t, c: {})
    with pytest.raises(ValueError, match="header"):
        gdpr.register_personal_data("exported_at", model="tags.Tag", export=lambda t, c: {})
    with pytest.raises(ValueError, match="together"):
        gdpr.register_personal_data("things", model="tags.Tag")
    # Registering the same key and model again replaces it (AppConfig.ready() may run twice).
    before = len(gdpr.personal_data_sources())
    gdpr.register_personal_data("activities", model="events.TimelineEntry", export=lambda t, c: [])
    assert len(gdpr.personal_data_sources()) == before
    assert api.get(detail(subject.id, "export")).json()["activities"] == []

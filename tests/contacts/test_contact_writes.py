"""Contact create, update and delete: normalisation, no-op PATCHes, events and history as documented."""

import pytest
from django.urls import reverse

from contacts.models import ContactChange
from events.models import OutboxEvent

LIST = reverse("contact-list")


def detail(cid):
    return reverse("contact-detail", kwargs={"pk": cid})


def history(cid):
    return reverse("contact-history", kwargs={"pk": cid})


def events_of(cid):
    return [
        e.payload if isinstance(e.payload, dict) else __import__("json").loads(e.payload)
        for e in OutboxEvent.objects.unscoped().filter(aggregate_id=cid).order_by("id")
    ]


@pytest.mark.django_db
def test_noop_patch_emits_nothing_and_writes_no_history(api):
    c = api.post(
        LIST, {"email": "ada@example.com", "first_name": "Ada", "country": "fr"}, format="json"
    ).json()
    before = len(events_of(c["id"]))
    r = api.patch(
        detail(c["id"]),
        {"email": "ADA@example.com", "first_name": " Ada ", "country": "FR", "phone": None, "city": ""},
        format="json",
    )
    assert r.status_code == 200, r.json()
    assert len(events_of(c["id"])) == before
    assert ContactChange.objects.unscoped().filter(contact_id=c["id"]).count() == 1


@pytest.mark.django_db
def test_updated_event_changes_exactly_the_changed_fields(api):
    c = api.post(LIST, {"email": "ada@example.com", "first_name": "Ada"}, format="json").json()
    r = api.patch(
        detail(c["id"]), {"first_name": "Ada", "last_name": "Lovelace", "city": "Paris"}, format="json"
    )
    assert r.status_code == 200
    ev = events_of(c["id"])[-1]
    assert ev["event_type"] == "contact.updated"
    assert ev["sequence"] == 2
    assert ev["data"]["changes"] == {
        "last_name": {"old": "", "new": "Lovelace"},
        "display_name": {"old": "Ada", "new": "Ada Lovelace"},
        "city": {"old": "", "new": "Paris"},
    }
    assert ev["data"]["contact"]["display_name"] == "Ada Lovelace"
    h = api.get(history(c["id"])).json()["results"]
    assert {e["field"] for e in h if e["event_id"] == ev["event_id"]} == {"last_name", "display_name", "city"}


@pytest.mark.django_db
def test_display_name_custom_then_cleared_then_names_change(api):
    c = api.post(LIST, {"email": "ada@example.com", "first_name": "Ada"}, format="json").json()
    cid = c["id"]
    assert (
        api.patch(detail(cid), {"display_name": "The Countess"}, format="json").json()["display_name"]
        == "The Countess"
    )
    assert (
        api.patch(detail(cid), {"last_name": "Lovelace"}, format="json").json()["display_name"]
        == "The Countess"
    )
    assert (
        api.patch(detail(cid), {"display_name": ""}, format="json").json()["display_name"] == "Ada Lovelace"
    )
    assert (
        api.patch(detail(cid), {"first_name": "Augusta"}, format="json").json()["display_name"]
        == "Augusta Lovelace"
    )
    assert (
        api.patch(detail(cid), {"display_name": None}, format="json").json()["display_name"]
        == "Augusta Lovelace"
    )
    assert (
        api.patch(detail(cid), {"first_name": "", "last_name": ""}, format="json").json()["display_name"]
        == "ada@example.com"
    )


@pytest.mark.django_db
def test_delete_twice_and_get_deleted(api):
    c = api.post(LIST, {"email": "ada@example.com"}, format="json").json()
    assert api.delete(detail(c["id"])).status_code == 204
    second = api.delete(detail(c["id"]))
    assert second.status_code == 404 and second.json()["code"] == "not_found"
    assert api.get(detail(c["id"])).status_code == 404
    assert api.patch(detail(c["id"]), {"city": "x"}, format="json").status_code == 404
    evs = events_of(c["id"])
    assert [e["event_type"] for e in evs] == ["contact.created", "contact.deleted"]
    d = evs[-1]["data"]
    assert d["reason"] == "deleted"
    assert d["changes"]["deleted_at"]["old"] is None and d["changes"]["deleted_at"]["new"]
    assert d["contact"]["deleted_at"] is not None


@pytest.mark.django_db
def test_created_event_shape(api):
    c = api.post(
        LIST,
        {"email": "ada@example.com", "first_name": "Ada", "phone": "06 12 34 56 78", "country": "fr"},
        format="json",
    ).json()
    ev = events_of(c["id"])[0]
    assert ev["event_type"] == "contact.created" and ev["sequence"] == 1
    assert set(ev["data"]["contact"]) == {
        "id",
        "email",
        "first_name",
        "last_name",
        "display_name",
        "company",
        "phone",
        "country",
        "city",
        "status",
        "source",
        "external_id",
        "attributes",
        "created_at",
        "updated_at",
        "deleted_at",
    }
    assert all(v["old"] is None for v in ev["data"]["changes"].values())
    assert ev["data"]["changes"]["phone"]["new"] == "+33612345678"


@pytest.mark.django_db
def test_put_is_405_in_error_shape(api):
    c = api.post(LIST, {"email": "ada@example.com"}, format="json").json()
    r = api.put(detail(c["id"]), {"email": "b@example.com"}, format="json")
    assert r.status_code == 405
    assert set(r.json()) >= {"code", "message", "errors", "correlation_id"}


@pytest.mark.django_db
def test_patch_empty_and_unknown(api):
    c = api.post(LIST, {"email": "ada@example.com"}, format="json").json()
    r = api.patch(detail(c["id"]), {}, format="json")
    assert r.status_code == 400, r.json()
    r = api.patch(detail(c["id"]), {"nickname": "x"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "nickname"
    assert len(events_of(c["id"])) == 1


@pytest.mark.django_db
def test_patch_phone_national_uses_contact_country(api):
    c = api.post(LIST, {"email": "ada@example.com", "country": "FR"}, format="json").json()
    r = api.patch(detail(c["id"]), {"phone": "06 12 34 56 78"}, format="json")
    assert r.status_code == 200 and r.json()["phone"] == "+33612345678"
    r = api.patch(detail(c["id"]), {"phone": "020 7946 0958", "country": "gb"}, format="json")
    assert r.status_code == 200 and r.json()["phone"] == "+442079460958", r.json()


@pytest.mark.django_db
def test_external_id_whitespace_uniqueness(api):
    api.post(LIST, {"external_id": "crm-1"}, format="json").json()
    r = api.post(LIST, {"external_id": " crm-1 "}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "unique"
    b = api.post(LIST, {"external_id": "crm-2"}, format="json").json()
    r = api.patch(detail(b["id"]), {"external_id": "crm-1 "}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "unique"

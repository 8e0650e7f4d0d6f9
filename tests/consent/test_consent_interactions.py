"""Consent across imports, double opt-in, merges, soft delete, erase, segments and the list filter."""

from django.urls import reverse

from consent.models import ConsentRecord, ConsentState
from contacts.models import Contact
from events.models import OutboxEvent
from lists.models import ListMembership
from tests.imports.conftest import (
    media,  # noqa: F401 (autouse: uploads in a temporary MEDIA_ROOT)
    run,
    upload,
)
from tests.merges.conftest import consent, consents_url, contact_url, create, merge_url, undo_url

CONTACTS = reverse("contact-list")


def state(contact_id, channel="email", purpose="marketing"):
    s = (
        ConsentState.objects.unscoped()
        .filter(contact_id=contact_id, channel=channel, purpose=purpose)
        .first()
    )
    return s.status if s else None


def events(contact_id, kind="contact.consent_changed"):
    return list(
        OutboxEvent.objects.unscoped().filter(aggregate_id=contact_id, event_type=kind).order_by("sequence")
    )


def ledger_matches_state(contact_id):
    """The current state per channel/purpose is the last applied ledger entry."""
    for s in ConsentState.objects.unscoped().filter(contact_id=contact_id):
        last = (
            ConsentRecord.objects.unscoped()
            .filter(contact_id=contact_id, channel=s.channel, purpose=s.purpose, applied=True)
            .order_by("-recorded_at", "-id")
            .first()
        )
        assert last is not None and last.pk == s.record_id and last.status == s.status, (s.channel, s.purpose)


def test_import_revokes_then_grants_existing_contact(api):
    ann = create(api, email="ann@example.com")
    consent(api, ann["id"], "email", "marketing", "granted")
    job = run(api, upload(api, "email,consent\nann@example.com,no\n").json()["id"])
    assert job["failed"] == 0, job
    assert state(ann["id"]) == "revoked"
    job = run(api, upload(api, "email,consent\nann@example.com,Opt-In\n").json()["id"])
    assert state(ann["id"]) == "granted"
    ledger_matches_state(ann["id"])
    assert [(e.payload["data"]["old"], e.payload["data"]["new"]) for e in events(ann["id"])] == [
        (None, "granted"),
        ("granted", "revoked"),
        ("revoked", "granted"),
    ]
    body = api.get(consents_url(ann["id"])).json()
    assert [c["status"] for c in body["current"]] == ["granted"]
    assert len(body["ledger"]) == 3
    tl = api.get(reverse("contact-timeline", kwargs={"pk": ann["id"]}), {"type": "contact.consent*"})
    assert tl.status_code == 200, tl.json()
    assert len(tl.json()["results"]) == 3


def test_import_fill_empty_keeps_existing_and_sets_missing(api):
    ann = create(api, email="ann@example.com")
    consent(api, ann["id"], "email", "marketing", "revoked")
    job = run(
        api,
        upload(api, "email,consent,newsletter\nann@example.com,yes,yes\n").json()["id"],
        on_match="fill_empty",
    )
    assert job["failed"] == 0, job
    assert state(ann["id"]) == "revoked"
    assert state(ann["id"], purpose="newsletter") == "granted"
    ledger_matches_state(ann["id"])


def test_pending_then_import_grant_then_confirm(api):
    ann = create(api, email="ann@example.com")
    r = api.post(
        consents_url(ann["id"]),
        {"channel": "email", "purpose": "marketing", "status": "pending"},
        format="json",
    ).json()
    token = r["confirmation"]["token"]
    run(api, upload(api, "email,consent\nann@example.com,yes\n").json()["id"])
    assert state(ann["id"]) == "granted"
    resp = api.get(reverse("consent-confirm", kwargs={"token": token}))
    assert resp.status_code == 200, resp.json()
    assert state(ann["id"]) == "granted"
    assert len(events(ann["id"])) == 2
    ledger_matches_state(ann["id"])


def test_pending_then_import_revoke_supersedes_token(api):
    ann = create(api, email="ann@example.com")
    r = api.post(
        consents_url(ann["id"]),
        {"channel": "email", "purpose": "marketing", "status": "pending"},
        format="json",
    ).json()
    run(api, upload(api, "email,consent\nann@example.com,no\n").json()["id"])
    resp = api.get(reverse("consent-confirm", kwargs={"token": r["confirmation"]["token"]}))
    assert resp.status_code == 409 and resp.json()["code"] == "token_superseded", resp.json()
    assert state(ann["id"]) == "revoked"


def test_consent_filter_statuses(api):
    a = create(api, email="a@example.com")
    b = create(api, email="b@example.com")
    c = create(api, email="c@example.com")
    d = create(api, email="d@example.com")
    consent(api, a["id"], "email", "marketing", "granted")
    consent(api, b["id"], "email", "marketing", "revoked")
    consent(api, c["id"], "email", "marketing", "pending")

    def ids(q):
        r = api.get(CONTACTS, {"consent": q})
        assert r.status_code == 200, r.json()
        return {x["id"] for x in r.json()["results"]}

    assert ids("email:marketing:granted") == {a["id"]}
    assert ids("email:marketing:revoked") == {b["id"]}
    assert ids("email:marketing:pending") == {c["id"]}
    assert ids("email:marketing:none") == {d["id"]}
    assert ids("email:marketing:none,sms:marketing:none") == {d["id"]}


def test_segment_follows_import_consent(api):
    ann = create(api, email="ann@example.com")
    rules = {"rules": [{"field": "consent.email.marketing", "op": "eq", "value": "granted"}]}
    seg = api.post(
        reverse("list-list"), {"name": "S", "kind": "dynamic", "rules": rules}, format="json"
    ).json()
    run(api, upload(api, "email,consent\nann@example.com,yes\nbob@example.com,yes\n").json()["id"])
    bob = Contact.objects.unscoped().get(email="bob@example.com")
    members = set(
        ListMembership.objects.unscoped()
        .filter(contact_list_id=seg["id"])
        .values_list("contact_id", flat=True)
    )
    assert {str(m) for m in members} == {ann["id"], str(bob.pk)}
    added = events(ann["id"], "contact.added_to_list")
    assert len(added) == 1
    seqs = [
        e.event_type
        for e in OutboxEvent.objects.unscoped().filter(aggregate_id=ann["id"]).order_by("sequence")
    ]
    assert seqs[-2:] == ["contact.consent_changed", "contact.added_to_list"], seqs
    run(api, upload(api, "email,consent\nann@example.com,no\n").json()["id"])
    assert len(events(ann["id"], "contact.removed_from_list")) == 1


def test_soft_deleted_restored_contact_consent(api):
    ann = create(api, email="ann@example.com")
    r = api.post(
        consents_url(ann["id"]),
        {"channel": "email", "purpose": "marketing", "status": "pending"},
        format="json",
    ).json()
    assert api.delete(contact_url(ann["id"])).status_code == 204
    resp = api.get(reverse("consent-confirm", kwargs={"token": r["confirmation"]["token"]}))
    assert resp.status_code == 404
    assert (
        api.post(
            consents_url(ann["id"]),
            {"channel": "email", "purpose": "marketing", "status": "granted"},
            format="json",
        ).status_code
        == 404
    )
    assert api.get(CONTACTS, {"consent": "email:marketing:pending"}).json()["results"] == []
    assert api.post(contact_url(ann["id"], "restore")).status_code == 200
    assert state(ann["id"]) == "pending"
    resp = api.get(reverse("consent-confirm", kwargs={"token": r["confirmation"]["token"]}))
    assert resp.status_code == 200, resp.json()
    assert state(ann["id"]) == "granted"


def test_erase_removes_consent_and_token_404(api):
    ann = create(api, email="ann@example.com")
    r = api.post(
        consents_url(ann["id"]),
        {"channel": "email", "purpose": "marketing", "status": "pending"},
        format="json",
    ).json()
    resp = api.post(contact_url(ann["id"], "erase"))
    assert resp.status_code in (200, 204), resp.content
    assert not ConsentRecord.objects.unscoped().filter(contact_id=ann["id"]).exists()
    resp = api.get(reverse("consent-confirm", kwargs={"token": r["confirmation"]["token"]}))
    assert resp.status_code == 404


def test_merge_then_undo_consent_events_and_state(api):
    p = create(api, email="p@example.com")
    o = create(api, email="o@example.com")
    consent(api, o["id"], "email", "marketing", "revoked")
    consent(api, p["id"], "email", "newsletter", "granted")
    consent(api, o["id"], "email", "newsletter", "pending")
    res = api.post(merge_url(p["id"]), {"others": [o["id"]]}, format="json")
    assert res.status_code == 201, res.json()
    assert state(p["id"]) == "revoked"
    assert state(p["id"], purpose="newsletter") == "pending"
    ledger_matches_state(p["id"])
    r = api.post(undo_url(res.json()["merge_id"]))
    assert r.status_code == 200, r.json()
    assert state(p["id"]) is None
    assert state(p["id"], purpose="newsletter") == "granted"
    ledger_matches_state(p["id"])
    ev = [
        (e.payload["data"]["purpose"], e.payload["data"]["old"], e.payload["data"]["new"])
        for e in events(p["id"])
    ]
    assert ev == [
        ("newsletter", None, "granted"),
        ("marketing", None, "revoked"),
        ("newsletter", "granted", "pending"),
        ("marketing", "revoked", None),
        ("newsletter", "pending", "granted"),
    ], ev


def test_purpose_added_used_in_import_and_delete_refused(api):
    r = api.post(reverse("consent-purpose-list"), {"key": "promo", "label": "Promo"}, format="json")
    assert r.status_code == 201, r.json()
    pid = r.json()["id"]
    job = run(api, upload(api, "email,consent.sms.promo\nann@example.com,yes\n").json()["id"])
    assert job["created"] == 1, job
    assert api.delete(reverse("consent-purpose-detail", kwargs={"pk": pid})).status_code == 409

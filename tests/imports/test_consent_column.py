"""A consent column in an import: suggested, validated, recorded in the ledger with the import as proof."""

from django.urls import reverse

from consent.models import ConsentRecord, ConsentState
from contacts.models import Contact
from events.models import OutboxEvent
from tests.factories import ContactFactory
from tests.imports.conftest import job_url, run, upload

CSV = """email,Email Consent,SMS opt-in
ann@example.com,yes,no
bob@example.com,Unsubscribed,
cat@example.com,maybe,yes
dan@example.com,,
"""


def _state(email, channel="email", purpose="marketing"):
    contact = Contact.objects.unscoped().get(email=email)
    state = ConsentState.objects.unscoped().filter(contact=contact, channel=channel, purpose=purpose).first()
    return state.status if state else None


def test_consent_columns_are_suggested_and_previewed(api):
    job = upload(api, CSV).json()
    assert job["mapping"] == {
        "email": "email",
        "Email Consent": "consent.email.marketing",
        "SMS opt-in": "consent.sms.marketing",
    }
    preview = {row["line"]: row for row in job["preview"]}
    assert preview[2]["values"]["consent.email.marketing"] == "granted"
    assert preview[2]["values"]["consent.sms.marketing"] == "revoked"
    assert preview[4]["action"] == "error"
    assert preview[4]["errors"] == ["consent.email.marketing: 'maybe' is not yes/no or granted/revoked."]


def test_run_records_ledger_states_and_events_once(api, tenant):
    job_id = upload(api, CSV).json()["id"]
    job = run(api, job_id)
    assert (job["created"], job["failed"]) == (3, 1)
    assert _state("ann@example.com") == "granted"
    assert _state("ann@example.com", "sms") == "revoked"
    assert _state("bob@example.com") == "revoked"
    assert _state("bob@example.com", "sms") is None  # an empty cell states nothing
    assert _state("dan@example.com") is None
    assert not Contact.objects.unscoped().filter(email="cat@example.com").exists()  # the row failed whole

    ann = Contact.objects.unscoped().get(email="ann@example.com")
    record = ConsentRecord.objects.unscoped().get(contact=ann, channel="email")
    assert (record.status, record.source, record.legal_basis) == ("granted", "import", "consent")
    assert record.proof == {"import_id": job_id, "filename": "contacts.csv", "line": 2}
    event = OutboxEvent.objects.unscoped().get(event_id=record.event_id)
    assert event.event_type == "contact.consent_changed"
    assert event.payload["data"]["new"] == "granted" and event.payload["data"]["old"] is None
    sequences = list(
        OutboxEvent.objects.unscoped()
        .filter(aggregate_id=ann.pk)
        .order_by("sequence")
        .values_list("event_type", "sequence")
    )
    assert sequences == [
        ("contact.created", 1),
        ("contact.consent_changed", 2),
        ("contact.consent_changed", 3),
    ]

    consents = api.get(reverse("contact-consents", kwargs={"contact_pk": ann.pk})).json()
    assert {(c["channel"], c["status"]) for c in consents["current"]} == {
        ("email", "granted"),
        ("sms", "revoked"),
    }

    # The same file again states nothing new: no ledger row, no event.
    contact_events = OutboxEvent.objects.unscoped().filter(aggregate_type="contact")
    ledger, outbox = ConsentRecord.objects.unscoped().count(), contact_events.count()
    again = run(api, upload(api, CSV).json()["id"])
    assert again["unchanged"] == 3
    assert ConsentRecord.objects.unscoped().count() == ledger
    assert contact_events.count() == outbox


def test_a_revocation_in_a_file_wins_but_fill_empty_keeps_a_stated_consent(api, tenant):
    ann = ContactFactory(tenant=tenant, email="ann@example.com")
    bob = ContactFactory(tenant=tenant, email="bob@example.com")
    for contact in (ann, bob):
        response = api.post(
            reverse("contact-consents", kwargs={"contact_pk": contact.pk}),
            {"channel": "email", "purpose": "marketing", "status": "granted"},
            format="json",
        )
        assert response.status_code == 201, response.json()
    csv = "email,consent\nann@example.com,no\n"
    run(api, upload(api, csv).json()["id"])
    assert _state("ann@example.com") == "revoked"
    run(api, upload(api, "email,consent\nbob@example.com,no\n").json()["id"], on_match="fill_empty")
    assert _state("bob@example.com") == "granted"


def test_imported_consent_moves_segment_members(api, tenant):
    segment = api.post(
        reverse("list-list"),
        {"name": "Marketing OK", "kind": "dynamic",
         "rules": {"operator": "and", "rules": [
             {"field": "consent.email.marketing", "op": "eq", "value": "granted"}]}},
        format="json",
    )  # fmt: skip
    assert segment.status_code == 201, segment.json()
    run(api, upload(api, CSV).json()["id"])
    members = api.get(reverse("list-contacts", kwargs={"pk": segment.json()["id"]})).json()["results"]
    assert [m["email"] for m in members] == ["ann@example.com"]


def test_consent_targets_are_checked(api):
    job_id = upload(api, "email,fax\nann@example.com,yes\n").json()["id"]
    for target in ("consent.fax.marketing", "consent.email.nosuchpurpose", "consent.email"):
        response = api.patch(job_url(job_id), {"mapping": {"fax": target}}, format="json")
        assert response.status_code == 400, target
        assert response.json()["errors"][0]["field"] == "mapping.fax"
    response = api.patch(job_url(job_id), {"mapping": {"fax": "consent.sms.newsletter"}}, format="json")
    assert response.status_code == 200
    assert run(api, job_id)["created"] == 1
    assert _state("ann@example.com", "sms", "newsletter") == "granted"


def test_pending_is_refused_in_a_file(api):
    job = upload(api, "email,consent\nann@example.com,pending\n").json()
    assert job["preview"][0]["action"] == "error"
    assert "double opt-in" in job["preview"][0]["errors"][0]


def test_imported_contacts_are_checked_for_duplicates(api, tenant, django_capture_on_commit_callbacks):
    existing = ContactFactory(tenant=tenant, email="ann@example.com", phone="+33612345678")
    with django_capture_on_commit_callbacks(execute=True):
        run(api, upload(api, "email,phone,country\nann.lee@other.example,06 12 34 56 78,FR\n").json()["id"])
    found = api.get(reverse("duplicate-list")).json()["results"]
    imported = Contact.objects.unscoped().get(email="ann.lee@other.example")
    assert [({c["id"] for c in item["contacts"]}, item["reasons"]) for item in found] == [
        ({str(existing.pk), str(imported.pk)}, ["phone"])
    ]

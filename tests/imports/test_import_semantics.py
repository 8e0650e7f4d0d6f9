"""Import semantics: counts, events, batches across a file, cancel, rows/s."""

import json
import time

from django.urls import reverse

from contacts.models import Contact
from events.models import OutboxEvent
from imports import services
from imports.models import ImportJob
from tests.factories import ContactFactory
from tests.imports.conftest import job_url, run, upload


def _job(api, content):
    r = upload(api, content)
    assert r.status_code == 201, r.json()
    return r.json()["id"]


def _errors(api, job_id):
    return b"".join(api.get(job_url(job_id, "errors")).streaming_content).decode()


def _events(**filters):
    return [
        (e.event_type, e.sequence, json.loads(e.payload) if isinstance(e.payload, str) else e.payload)
        for e in OutboxEvent.objects.unscoped().filter(**filters).order_by("aggregate_id", "sequence", "id")
    ]


COUNTS = ("created", "updated", "unchanged", "skipped", "duplicates", "failed")


def test_counts_add_up_and_completed_event_matches_docs(api, tenant):
    ContactFactory(tenant=tenant, email="upd@example.com", first_name="Old")
    ContactFactory(tenant=tenant, email="same@example.com", first_name="Same")
    content = (
        "email,first_name\n"
        "new@example.com,New\n"
        "upd@example.com,Newer\n"
        "same@example.com,Same\n"
        "dup@example.com,A\n"
        "DUP@example.com,B\n"
        "bad,X\n"
    )
    job_id = _job(api, content)
    job = run(api, job_id)
    assert sum(job[k] for k in COUNTS) == job["processed_rows"] == job["total_rows"] == 6, job
    (ev,) = OutboxEvent.objects.unscoped().filter(event_type="import.completed")
    payload = json.loads(ev.payload) if isinstance(ev.payload, str) else ev.payload
    data = payload["data"]
    assert (ev.aggregate_type, str(ev.aggregate_id), ev.sequence) == ("import", job_id, 1)
    assert data == {
        "import_id": job_id,
        "status": "completed_with_errors",
        "filename": "contacts.csv",
        "total_rows": 6,
        "processed_rows": 6,
        "created": 2,
        "updated": 1,
        "unchanged": 1,
        "skipped": 0,
        "duplicates": 1,
        "failed": 1,
        "error": "",
    }
    assert job["eta_seconds"] is None


def test_rows_per_second_counts_the_time_spent_writing(api, tenant, monkeypatch):
    real = services.apply_batch

    def slow(job, plan, actor):
        time.sleep(0.5)
        return real(job, plan, actor)

    monkeypatch.setattr(services, "apply_batch", slow)
    content = "email\n" + "".join(f"p{i}@example.com\n" for i in range(10))
    job = run(api, _job(api, content))
    assert job["status"] == "completed"
    # 10 rows in at least 0.5 s: at most 20 rows/s
    assert job["rows_per_second"] <= 20, job["rows_per_second"]


def test_same_email_in_row_1_and_row_600_updates_the_first_contact(api, tenant):
    rows = (
        ["ann@example.com,Ann"] + [f"p{i}@example.com,P{i}" for i in range(598)] + ["ANN@Example.com,Annie"]
    )
    job_id = _job(api, "email,first_name\n" + "\n".join(rows) + "\n")
    job = run(api, job_id)
    assert (job["created"], job["updated"], job["failed"], job["duplicates"]) == (599, 1, 0, 0), _errors(
        api, job_id
    )
    assert Contact.objects.unscoped().get(email="ann@example.com").first_name == "Annie"
    ann = Contact.objects.unscoped().get(email="ann@example.com")
    ev = _events(aggregate_id=ann.pk)
    assert [(t, s) for t, s, _ in ev] == [("contact.created", 1), ("contact.updated", 2)]
    assert ev[1][2]["data"]["import_id"] == job_id
    assert ev[1][2]["data"]["changes"] == {
        "first_name": {"old": "Ann", "new": "Annie"},
        "display_name": {"old": "Ann", "new": "Annie"},
    }


def test_email_match_whose_external_id_belongs_to_another_contact_fails_the_row(api, tenant):
    ContactFactory(tenant=tenant, email="ann@example.com", external_id="A1")
    ContactFactory(tenant=tenant, email="bob@example.com", external_id="B1")
    job_id = _job(api, "email,external_id,first_name\nann@example.com,B1,Ann\n")
    job = run(api, job_id)
    assert (job["failed"], job["updated"]) == (1, 0), job
    assert "external_id" in _errors(api, job_id)


def test_events_per_row_and_sequences(api, tenant):
    static = api.post(reverse("list-list"), {"name": "L"}, format="json").json()
    ContactFactory(tenant=tenant, email="old@example.com", first_name="Old")
    content = "email,first_name,tags,consent\nnew@example.com,New,VIP,yes\nold@example.com,Older,VIP,yes\n"
    job_id = _job(api, content)
    job = run(api, job_id, list_id=static["id"], tags=["Spring"])
    assert (job["created"], job["updated"]) == (1, 1), job
    for email, first in (("new@example.com", "contact.created"), ("old@example.com", "contact.updated")):
        c = Contact.objects.unscoped().get(email=email)
        ev = _events(aggregate_id=c.pk)
        types = [t for t, _, _ in ev]
        assert types[0] == first
        assert sorted(types[1:]) == sorted(
            ["contact.tagged", "contact.tagged", "contact.added_to_list", "contact.consent_changed"]
        )
        assert types[-1] == "contact.consent_changed"
        seqs = [s for _, s, _ in ev]
        start = seqs[0]
        assert seqs == list(range(start, start + len(seqs)))
        assert ev[0][2]["data"]["import_id"] == job_id
        c.refresh_from_db()
        assert c.event_sequence == seqs[-1]
    # again: nothing changes, nothing emitted
    before = OutboxEvent.objects.unscoped().filter(event_type__startswith="contact.").count()
    job = run(api, _job(api, content), list_id=static["id"], tags=["Spring"])
    assert (job["unchanged"], job["created"], job["updated"]) == (2, 0, 0), job
    assert OutboxEvent.objects.unscoped().filter(event_type__startswith="contact.").count() == before


def test_cancel_and_start_states(api, tenant):
    job_id = _job(api, "email\na@example.com\n")
    assert api.post(job_url(job_id, "cancel")).json()["status"] == "cancelled"
    assert api.post(job_url(job_id, "start")).status_code == 409
    assert api.post(job_url(job_id, "cancel")).status_code == 409
    assert api.patch(job_url(job_id), {"on_match": "skip"}, format="json").status_code == 409

    job_id = _job(api, "email\nb@example.com\n")
    assert api.post(job_url(job_id, "start")).status_code == 200
    assert api.post(job_url(job_id, "start")).status_code == 409
    r = api.post(job_url(job_id, "cancel"))
    assert r.json()["status"] == "cancelled"
    assert services.import_process(job_id) == "nothing to do"
    assert not Contact.objects.unscoped().filter(email="b@example.com").exists()
    assert not OutboxEvent.objects.unscoped().filter(event_type="import.completed").exists()

    job_id = _job(api, "email\nc@example.com\n")
    done = run(api, job_id)
    assert done["status"] == "completed"
    r = api.post(job_url(job_id, "cancel"))
    assert r.status_code == 409
    assert api.post(job_url(job_id, "start")).status_code == 409
    r = api.get(job_url(job_id, "errors"))
    assert r.status_code == 200
    assert _errors(api, job_id) == "line,errors,email\r\n"


def test_cancel_while_running_sets_flag(api, tenant):
    job_id = _job(api, "email\nd@example.com\n")
    assert api.post(job_url(job_id, "start")).status_code == 200
    ImportJob.objects.unscoped().filter(pk=job_id).update(status="running")
    r = api.post(job_url(job_id, "cancel"))
    assert r.status_code == 200, r.json()
    assert r.json()["cancel_requested"] is True
    assert services.import_process(job_id) == "cancelled"
    assert api.get(job_url(job_id)).json()["status"] == "cancelled"

"""Erased contacts, a later failing row of a key, and cancelling a queued job a worker picks up."""

from contacts.gdpr import contact_erase
from contacts.models import Contact
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from events.models import OutboxEvent
from imports import services
from imports.models import ImportJob
from tags.models import TagAssignment
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.imports.conftest import job_url, run, upload


def _job(api, content):
    r = upload(api, content)
    assert r.status_code == 201, r.json()
    return r.json()["id"]


def _errors(api, job_id):
    return b"".join(api.get(job_url(job_id, "errors")).streaming_content).decode()


def test_allow_erased(api, tenant):
    erased = ContactFactory(tenant=tenant, email="gone@example.com", phone="+33612345678")
    with tenant_context(tenant):
        contact_erase(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=erased.pk, source="api")
    content = "email,phone\nGone@Example.com,\nother@example.com,+33 6 12 34 56 78\n"
    job = run(api, _job(api, content))
    assert (job["skipped"], job["created"]) == (2, 0), job
    job = run(api, _job(api, content), allow_erased=True)
    assert (job["skipped"], job["created"]) == (0, 2), job


def test_row_tags_differing_in_case_make_one_link(api, tenant):
    job = run(api, _job(api, "email,tags\nann@example.com,VIP;vip; Vip \n"))
    assert job["created"] == 1
    assert TagAssignment.objects.unscoped().filter(tenant=tenant).count() == 1
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.tagged").count() == 1


def test_a_later_row_that_fails_does_not_swallow_an_earlier_valid_row(api, tenant):
    """Within a batch, a later row with a parse error (bad phone) does not shadow an earlier row with
    the same email, nor does a later row that fails on its own at planning (a required attribute
    missing on create): the earlier row is created, the later one fails. (In separate batches the
    later row would update the contact the earlier one created: rows of one batch are planned
    together, the last good row of a key being the one applied.)"""
    AttributeDefinitionFactory(tenant=tenant, key="plan", type="string", required=True)
    content = "email,plan,first_name\nann@example.com,gold,Ann\nann@example.com,,Annie\n"
    job_id = _job(api, content)
    job = run(api, job_id)
    ann = Contact.objects.unscoped().filter(email="ann@example.com").first()
    assert ann is not None and ann.first_name == "Ann", (job, _errors(api, job_id))


def test_a_later_row_failing_on_a_value_another_row_writes_leaves_the_earlier_row_of_its_key(api, tenant):
    """Line 4 (ann, E9) fails: line 2 (cat) writes E9 first. Line 3 (ann, E1), the earlier row of ann's
    key, is then the one applied, not a `duplicate` of a row that failed (which imported neither)."""
    content = "email,external_id\ncat@example.com,E9\nann@example.com,E1\nann@example.com,E9\n"
    job_id = _job(api, content)
    job = run(api, job_id)
    assert (job["created"], job["failed"], job["duplicates"]) == (2, 1, 0), job
    ann = Contact.objects.unscoped().get(email="ann@example.com")
    assert ann.external_id == "E1"
    assert Contact.objects.unscoped().get(email="cat@example.com").external_id == "E9"
    errors = _errors(api, job_id)
    assert errors.splitlines()[1].startswith("4,") and "line 2" in errors, errors


def test_a_row_failing_on_one_value_does_not_hold_its_other_value_against_a_later_row(api, tenant):
    """Line 3 fails (line 2 writes E1 first); its email b@ is not written, so line 4 may take it."""
    content = (
        "phone,email,external_id\n+33611111111,a@example.com,E1\n+33622222222,b@example.com,E1\n"
        "+33633333333,b@example.com,E3\n"
    )
    job_id = _job(api, content)
    job = run(api, job_id, dedupe_key="phone")
    assert (job["created"], job["failed"]) == (2, 1), (job, _errors(api, job_id))
    assert Contact.objects.unscoped().get(email="b@example.com").external_id == "E3"


def test_cancel_of_a_queued_job_is_not_undone_by_a_worker_starting_it(api, tenant, monkeypatch):
    job_id = _job(api, "email\nq@example.com\n")
    assert api.post(job_url(job_id, "start")).status_code == 200
    real_now, fired = services.timezone.now, {"n": 0}

    class _TZ:
        @staticmethod
        def now():
            if fired["n"] == 0:  # the user's cancel lands just after _run read the job as queued
                fired["n"] = 1
                ImportJob.objects.unscoped().filter(pk=job_id).update(
                    status="cancelled", finished_at=real_now()
                )
            return real_now()

    monkeypatch.setattr(services, "timezone", _TZ)
    services.import_process(job_id)
    assert ImportJob.objects.unscoped().get(pk=job_id).status == "cancelled"
    assert not Contact.objects.unscoped().filter(email="q@example.com").exists()

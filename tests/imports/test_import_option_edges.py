"""Import options at their edges: attribute cells read strictly, national phones read in the
matched contact's country, no tag dropped silently, a cancelled running job ends as a finished one."""

import json

from django.urls import reverse

from contacts.models import Contact
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


# 1. Date attribute: anything after the first 10 characters is thrown away -------------------------


def test_date_attribute_with_trailing_garbage_fails_the_row(api, tenant):
    """docs: dates as YYYY-MM-DD, or a timestamp's date part. "2024-01-011" (a typo) and
    "2024-01-01junk" are neither, yet both are imported as 2024-01-01 (preview says create)."""
    AttributeDefinitionFactory(tenant=tenant, key="born", type="date")
    job_id = _job(api, "email,born\nann@example.com,2024-01-011\nbob@example.com,2024-01-01junk\n")
    preview = api.get(job_url(job_id)).json()["preview"]
    assert [row["action"] for row in preview] == ["error", "error"], preview
    job = run(api, job_id)
    assert (job["created"], job["failed"]) == (0, 2), job
    assert "attributes.born" in _errors(api, job_id)
    assert not Contact.objects.unscoped().filter(tenant=tenant).exists()


# 2. Number attribute: Python's int() underscores accepted ---------------------------------------


def test_number_attribute_with_underscores_fails_the_row(api, tenant):
    """ "1_000" / "1_0.5" are not numbers in any CSV convention (docs: numbers with . or , decimals;
    the API refuses the string too) but int()/float() accept digit-group underscores: stored 1000 and
    10.5."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    job_id = _job(api, "email,score\nann@example.com,1_000\nbob@example.com,1_0.5\n")
    job = run(api, job_id)
    stored = dict(Contact.objects.unscoped().filter(tenant=tenant).values_list("email", "attributes"))
    assert (job["created"], job["failed"]) == (0, 2), (job, stored)
    assert "attributes.score" in _errors(api, job_id)


# 3. Phone in national form: the matched contact's country is ignored ----------------------------


def test_national_phone_on_update_is_read_in_the_matched_contacts_country(api, tenant):
    """PATCH /contacts/{id}/ reads a national number in the contact's country (docs, Fields: phone).
    The import, updating that same contact (matched by email, country FR), fails the row with
    "Include the country code ... or set the contact's country" although the contact has one."""
    api_contact = ContactFactory(tenant=tenant, email="a@example.com", country="FR", phone=None)
    r = api.patch(
        reverse("contact-detail", kwargs={"pk": api_contact.pk}), {"phone": "06 12 34 56 78"}, format="json"
    )
    assert r.status_code == 200 and r.json()["phone"] == "+33612345678"  # the API takes it

    contact = ContactFactory(tenant=tenant, email="b@example.com", country="FR", phone=None)
    job_id = _job(api, "email,phone\nb@example.com,06 12 34 56 79\n")
    preview = api.get(job_url(job_id)).json()["preview"]
    assert preview[0]["action"] == "update", preview
    job = run(api, job_id)
    assert (job["updated"], job["failed"]) == (1, 0), (job, _errors(api, job_id))
    contact.refresh_from_db()
    assert contact.phone == "+33612345679"


# 4. Tags cell: names past the 50th silently dropped ---------------------------------------------


def test_a_tags_cell_with_more_than_50_names_is_not_silently_truncated(api, tenant):
    """POST /contacts/{id}/tags/ refuses more than 50 names (400 on tags). The import keeps the first
    50 of a cell and drops the rest without a word: the row counts as created, errors.csv is empty.
    Either every tag is applied or the row fails naming `tags`; never a silent loss."""
    names = ";".join(f"T{i}" for i in range(55))
    job_id = _job(api, f'email,tags\nann@example.com,"{names}"\n')
    job = run(api, job_id)
    assigned = TagAssignment.objects.unscoped().filter(tenant=tenant).count()
    failed_on_tags = job["failed"] == 1 and "tags" in _errors(api, job_id)
    assert assigned == 55 or failed_on_tags, (assigned, job)


# 5. Cancelling a running import -----------------------------------------------------------------


def _cancel_after_first_batch(api, monkeypatch, rows=600):
    content = "email\n" + "".join(f"p{i}@example.com\n" for i in range(rows))
    job_id = _job(api, content)
    real = services.apply_batch

    def apply_then_cancel(job, plan, actor):  # POST cancel arriving while batch 1 is written
        out = real(job, plan, actor)
        ImportJob.objects.unscoped().filter(pk=job.pk).update(cancel_requested=True)
        return out

    monkeypatch.setattr(services, "apply_batch", apply_then_cancel)
    assert api.post(job_url(job_id, "start")).status_code == 200
    return job_id


def test_a_running_import_cancelled_after_a_batch_ends_with_import_completed(api, tenant, monkeypatch):
    """docs: cancel stops a running job after its current batch; "the job ends with import.completed
    and, when it created or updated contacts, one recompute". Cancelled after batch 1 (500 contacts
    created, their contact.created events sent), no import.completed is ever recorded (nor the
    duplicates recompute): _commit_batch sets `cancelled` itself instead of going through _finish."""
    job_id = _cancel_after_first_batch(api, monkeypatch)
    assert services.import_process(job_id) == "cancelled"
    job = api.get(job_url(job_id)).json()
    assert (job["status"], job["created"]) == ("cancelled", 500), job
    assert OutboxEvent.objects.unscoped().filter(event_type="contact.created").count() == 500
    events = OutboxEvent.objects.unscoped().filter(event_type="import.completed")
    assert events.count() == 1
    payload = events.get().payload
    data = (json.loads(payload) if isinstance(payload, str) else payload)["data"]
    assert (data["status"], data["created"], data["processed_rows"]) == ("cancelled", 500, 500)


def test_a_running_import_cancelled_after_a_batch_deletes_its_upload(
    api, tenant, monkeypatch, media, django_capture_on_commit_callbacks
):
    """A finished job's upload (personal data) is deleted (imports/gdpr.py: "The uploads of finished
    imports go"); a draft or queued job cancelled deletes it too. A running job cancelled keeps the
    file in storage and `file` set for good."""
    job_id = _cancel_after_first_batch(api, monkeypatch)
    name = ImportJob.objects.unscoped().get(pk=job_id).file
    assert (media / name).exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.import_process(job_id) == "cancelled"
    job = ImportJob.objects.unscoped().get(pk=job_id)
    assert job.status == "cancelled"
    assert job.file == "" and not (media / name).exists(), job.file


# 6. display_name set by the import to the current derived value is not kept as set ---------------


def test_display_name_imported_equal_to_the_derived_one_stays_set(api, tenant):
    """docs: display_name is derived from the names "until set". PATCH display_name equal to the
    derived value keeps it set (contact_update saves display_name_custom). The import, mapping a
    display_name column with that same value, flags it in memory but never saves the flag (the row
    is `unchanged`), so the next name change re-derives it and the imported name is lost."""
    by_api = ContactFactory(
        tenant=tenant, email="api@example.com", first_name="Ann", last_name="Lee", display_name="Ann Lee"
    )
    url = reverse("contact-detail", kwargs={"pk": by_api.pk})
    assert api.patch(url, {"display_name": "Ann Lee"}, format="json").status_code == 200
    assert api.patch(url, {"first_name": "Annie"}, format="json").json()["display_name"] == "Ann Lee"

    c = ContactFactory(
        tenant=tenant, email="a@example.com", first_name="Ann", last_name="Lee", display_name="Ann Lee"
    )
    run(api, _job(api, "email,display_name\na@example.com,Ann Lee\n"))
    url = reverse("contact-detail", kwargs={"pk": c.pk})
    r = api.patch(url, {"first_name": "Annie"}, format="json")
    assert r.json()["display_name"] == "Ann Lee", r.json()

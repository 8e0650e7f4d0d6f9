"""Edges of this service's own fixes (found by a review): segments saved before a rule check tightened
keep following contacts, the admin import skips blank lines before the header, a merged contact's
sub-resources answer where it went and name a live contact only, an erasure failing a queued export is
not undone by its task starting."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.models import Contact
from imports.models import ExportJob
from lists.models import ContactList
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.imports.test_admin_import_export import confirm, upload
from tests.lists.segment_helpers import is_member, rule, segment
from tests.merges.conftest import create, merge_url

CONTACTS = reverse("contact-list")


# -- imports: the admin path misses the API path's fix ----------------------------------------------


@pytest.mark.django_db
def test_admin_import_skips_blank_lines_before_the_header_as_the_api_import_now_does(operator_client, tenant):
    """The admin import takes the first row that is not blank as the header, as the API import does."""
    content = "\nemail,first_name\nann@example.com,Ann\n"

    preview = upload(operator_client, tenant, content)
    result = preview.context["result"]

    assert not result.base_errors, [str(e.error) for e in result.base_errors]
    confirm(operator_client, preview)
    assert list(Contact.objects.unscoped().values_list("email", flat=True)) == ["ann@example.com"]


# -- contacts: the merged-contact 404 on the other contact endpoints -----------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("sub", ["contact-identifier-list", "contact-consents", "contact-activities"])
def test_a_merged_contacts_sub_resources_404_names_where_it_went(api, sub):
    """Identifiers, consents and activities of a merged contact's id: the 404 names primary_id and
    merge_id."""
    primary = create(api, email="keep@sub.example")
    other = create(api, email="gone@sub.example")
    done = api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json")
    assert done.status_code == 201, done.json()

    response = api.get(reverse(sub, kwargs={"contact_pk": other["id"]}))

    body = response.json()
    assert response.status_code == 404, body
    assert (body.get("primary_id"), body.get("merge_id")) == (primary["id"], done.json()["merge_id"]), body


# -- segments: a stricter rule check freezes stored segments ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "stored_rule",
    [
        {"field": "attributes.since", "op": "eq", "value": "20240105"},
        {"field": "status", "op": "in", "value": ["active", "archived"]},
    ],
)
def test_a_segment_stored_before_the_stricter_rule_check_keeps_following_contacts(api, tenant, stored_rule):
    """A segment saved with rules the check refuses since (a date as 20240105, an unknown status in a list)
    keeps following contacts: its upkeep reads stored rules as before; saving them again applies the check."""
    AttributeDefinitionFactory(tenant=tenant, key="since", type="date")
    seg = segment(api, "Stored", rule("status", "eq", "active"))
    # as the segment's rules were stored by the API before 64a81d4
    stored = {"operator": "and", "rules": [stored_rule]}
    ContactList.objects.unscoped().filter(pk=seg["id"]).update(rules=stored)

    created = api.post(
        CONTACTS, {"email": "new@seg.example", "attributes": {"since": "2024-01-05"}}, format="json"
    )
    assert created.status_code == 201, created.json()

    assert is_member(created.json()["id"], seg["id"])


# -- exports: the erasure's failure can be overwritten by the task's start ---------------------------


@pytest.mark.django_db
def test_an_erasure_failing_a_queued_export_is_not_undone_by_the_task_starting(api, tenant, monkeypatch):
    """The erasure commits between the task's read of the job and its switch to running: the job stays
    failed (the switch is conditional on the status) and the task does nothing."""
    from imports import exports

    ContactFactory(tenant=tenant, email="stay@example.com")
    erased = ContactFactory(tenant=tenant, email="leave@example.com")
    queued = api.post(reverse("export-list"), {"filters": {"email": "leave@example.com"}}, format="json")
    assert queued.status_code == 201, queued.json()
    job_id = queued.json()["id"]
    assert ExportJob.objects.unscoped().get(pk=job_id).status == "queued"

    real_timezone = exports.timezone

    class _ErasureCommitsNow:
        """timezone.now() is first called for the RUNNING update's started_at: right after the check."""

        fired = False

        def __getattr__(self, name):
            return getattr(real_timezone, name)

        def now(self):
            if not self.fired:
                self.fired = True
                assert api.post(f"/api/v1/contacts/{erased.pk}/erase/").status_code == 200
                assert ExportJob.objects.unscoped().get(pk=job_id).status == "failed"
            return real_timezone.now()

    monkeypatch.setattr(exports, "timezone", _ErasureCommitsNow())

    outcome = exports.export_process(job_id)

    job = ExportJob.objects.unscoped().get(pk=job_id)
    assert (outcome, job.status, job.error) == (
        "nothing to do",
        "failed",
        "A contact its filters name was erased before it was written; export again.",
    )


@pytest.mark.django_db
def test_the_primary_id_of_a_merged_contacts_404_is_a_live_contact(api):
    """After the primary is soft-deleted, the merged contact's 404 names the merge but no primary_id."""
    primary = create(api, email="keep@live.example")
    other = create(api, email="gone@live.example")
    assert api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json").status_code == 201
    assert api.delete(f"{CONTACTS}{primary['id']}/").status_code == 204

    body = api.get(f"{CONTACTS}{other['id']}/").json()

    named = body.get("primary_id")
    assert named is None or api.get(f"{CONTACTS}{named}/").status_code == 200, body

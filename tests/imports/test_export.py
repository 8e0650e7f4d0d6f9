"""CSV export as a user sees it: create with filters and columns, follow, download by signed link."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
import uuid
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import signing
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact
from contacts_service.roles import Role
from imports import exports
from imports.models import ExportJob
from lists.models import ContactList, ListMembership
from tags.models import Tag, TagAssignment
from tests.factories import AttributeDefinitionFactory, ContactFactory

EXPORTS = reverse("export-list")


def detail_url(job_id) -> str:
    return reverse("export-detail", kwargs={"pk": job_id})


def download_url(job_id, token: str) -> str:
    return f"{reverse('export-download', kwargs={'pk': job_id})}?token={token}"


def fetch(client, url: str):
    response = client.get(url)
    # Reading the whole stream closes the file (the test client closes streaming responses at the end).
    body = b"".join(response.streaming_content) if response.streaming else response.content
    return response, body


def rows_of(client, job: dict) -> list[list[str]]:
    response, body = fetch(client, job["download_url"])
    assert response.status_code == 200, body
    return list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))


def emails(client, job: dict) -> set[str]:
    header, *rows = rows_of(client, job)
    return {row[header.index("email")] for row in rows}


def tag(tenant, contacts, *names):
    for name in names:
        found = Tag.objects.for_tenant(tenant).filter(name=name).first()
        found = found or Tag.objects.for_tenant(tenant).create(tenant=tenant, name=name)
        TagAssignment.objects.for_tenant(tenant).bulk_create(
            [TagAssignment(tenant=tenant, tag=found, contact=c) for c in contacts]
        )


def add_to_list(tenant, contacts, name) -> ContactList:
    found = ContactList.objects.for_tenant(tenant).filter(name=name).first()
    found = found or ContactList.objects.for_tenant(tenant).create(tenant=tenant, name=name)
    ListMembership.objects.for_tenant(tenant).bulk_create(
        [ListMembership(tenant=tenant, contact_list=found, contact=c) for c in contacts]
    )
    return found


@pytest.fixture
def people(tenant):
    """Ann (FR, active, VIP+Lead, in Newsletter), Bob (DE, inactive, VIP), Cat (FR, blocked), and a
    deleted contact tagged VIP."""
    ann = ContactFactory(tenant=tenant, email="ann@example.com", first_name="Ann", last_name="Lee",
                         company="Initech", country="FR", status="active")  # fmt: skip
    bob = ContactFactory(tenant=tenant, email="bob@example.com", first_name="Bob", last_name="Stone",
                         company="Acme", country="DE", status="inactive")  # fmt: skip
    cat = ContactFactory(tenant=tenant, email="cat@example.com", first_name="Cat", last_name="Ng",
                         company="Acme", country="FR", status="blocked")  # fmt: skip
    gone = ContactFactory(tenant=tenant, email="gone@example.com", deleted_at=timezone.now())
    tag(tenant, [ann, bob, gone], "VIP")
    tag(tenant, [ann], "Lead")
    newsletter = add_to_list(tenant, [ann, cat, gone], "Newsletter")
    return {"ann": ann, "bob": bob, "cat": cat, "gone": gone, "newsletter": newsletter}


def test_export_writes_the_default_columns_in_creation_order_without_deleted_contacts(api, export, people):
    job = export()

    assert job["status"] == "completed"
    assert job["row_count"] == 3
    assert job["file_size"] > 0 and job["finished_at"] and job["expires_at"]
    header, *rows = rows_of(api, job)
    assert header == exports.DEFAULT_COLUMNS
    ann = people["ann"]
    assert rows[0] == [str(ann.pk), "ann@example.com", "Ann", "Lee", "Initech", "", "FR", "Paris", "active",
                       "", f"{ann.created_at:%Y-%m-%d %H:%M:%S}", f"{ann.updated_at:%Y-%m-%d %H:%M:%S}",
                       "Lead; VIP"]  # fmt: skip
    assert [row[1] for row in rows] == ["ann@example.com", "bob@example.com", "cat@example.com"]
    assert "gone@example.com" not in {row[1] for row in rows}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"tags": "vip,lead"}, {"ann", "bob"}),  # any of them, names in any case
        ({"tags": ["VIP", "Lead"]}, {"ann", "bob"}),
        ({"tags_all": "VIP,Lead"}, {"ann"}),
        ({"tags_all": "VIP,Nobody"}, set()),
        ({"status": ["active", "blocked"]}, {"ann", "cat"}),
        ({"status": "inactive"}, {"bob"}),
        ({"search": "acme"}, {"bob", "cat"}),
        ({"search": "ann lee"}, {"ann"}),
        ({"country": ["fr"], "status": "blocked"}, {"cat"}),
        ({}, {"ann", "bob", "cat"}),
    ],
)
def test_filters_select_what_the_contacts_list_selects(api, export, people, filters, expected):
    job = export(filters=filters)

    assert emails(api, job) == {f"{name}@example.com" for name in expected}
    assert job["row_count"] == len(expected)
    assert job["filters"] == filters
    as_query = {k: ",".join(v) if isinstance(v, list) and k != "status" else v for k, v in filters.items()}
    listed = api.get(reverse("contact-list"), {**as_query, "page_size": 100}).json()["results"]
    assert {c["email"] for c in listed} == {f"{name}@example.com" for name in expected}


def test_list_filter_exports_the_members_of_a_static_list_or_a_segment(api, export, people):
    assert emails(api, export(filters={"list": str(people["newsletter"].pk)})) == {
        "ann@example.com",
        "cat@example.com",
    }
    segment = api.post(
        reverse("list-list"),
        {"name": "French", "kind": "dynamic",
         "rules": {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]}},
        format="json",
    ).json()  # fmt: skip
    assert emails(api, export(filters={"list": segment["id"]})) == {"ann@example.com", "cat@example.com"}


def test_chosen_columns_in_their_order_with_attributes_and_lists(api, export, tenant, people):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="vip", type="boolean")
    Contact.objects.unscoped().filter(pk=people["ann"].pk).update(attributes={"score": 10, "vip": True})
    add_to_list(tenant, [people["ann"]], "Customers")

    job = export(
        columns=["email", "attributes.score", "lists", "attributes.vip", "tags"], filters={"tags": "VIP"}
    )

    assert job["columns"] == ["email", "attributes.score", "lists", "attributes.vip", "tags"]
    assert rows_of(api, job) == [
        ["email", "attributes.score", "lists", "attributes.vip", "tags"],
        ["ann@example.com", "10", "Customers; Newsletter", "true", "Lead; VIP"],
        ["bob@example.com", "", "", "", "VIP"],
    ]


NASTY = {
    "first_name": '=HYPERLINK("http://evil.example","click")',
    "last_name": "-2+3",
    "company": "+cmd|' /C calc'!A0",
    "city": "@SUM(1+1)",
    "external_id": "\tdata",
    "display_name": "\rline",
}


def test_cells_that_a_spreadsheet_would_run_are_neutralised(api, export, tenant):
    contact = ContactFactory(tenant=tenant, email="evil@example.com", **NASTY)
    tag(tenant, [contact], "=cmd()")

    job = export(columns=["email", *NASTY, "tags"])

    _, row = rows_of(api, job)
    assert row == ["evil@example.com", *[f"'{value}" for value in NASTY.values()], "'=cmd()"]


def test_bom_and_delimiter_for_excel(api, export, people):
    job = export(bom=True, delimiter=";", columns=["email", "company"], filters={"status": "active"})

    response, body = fetch(api, job["download_url"])
    assert body == b"\xef\xbb\xbfemail;company\nann@example.com;Initech\n"
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-')
    assert export(columns=["email"], filters={"status": "active"})["bom"] is False
    _, plain = fetch(api, export(columns=["email"], filters={"status": "active"})["download_url"])
    assert plain == b"email\nann@example.com\n"


def test_copy_and_portable_writers_write_the_same_bytes(api, tenant, people, settings, tmp_path):
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="note", type="string")
    ContactFactory(tenant=tenant, email="odd@example.com", first_name='Quote " and, comma', last_name="",
                   company="Line\nbreak", city="Zürich", phone="+33612345678", external_id="ext;1",
                   attributes={"score": 2.5, "note": "-x"})  # fmt: skip
    ContactFactory(tenant=tenant, email=None, phone="+4915112345678", first_name="", last_name="", company="",
                   city="", country="", attributes={"score": -3})  # fmt: skip
    tag(tenant, [people["cat"]], "été", "Zebra", "apple")
    columns = [*exports.COLUMNS, "attributes.score", "attributes.note"]
    written = {}
    for use_copy in (True, False):
        out = io.BytesIO()
        count = exports.export_write(
            tenant=tenant, filters={}, columns=columns, out=out, delimiter="\t", bom=True, use_copy=use_copy
        )
        written[use_copy] = (count, out.getvalue())

    assert written[True] == written[False]
    one_column = [io.BytesIO(), io.BytesIO()]
    for use_copy, out in zip((True, False), one_column, strict=True):
        exports.export_write(tenant=tenant, filters={}, columns=["email"], out=out, use_copy=use_copy)
    assert one_column[0].getvalue() == one_column[1].getvalue()
    assert one_column[0].getvalue().endswith(b'\n""\n')  # the contact without email: a line, not a blank
    count, body = written[True]
    assert count == 5
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline=""), delimiter="\t"))
    assert len(rows) == 6
    odd = next(r for r in rows if r[1] == "odd@example.com")
    assert odd[columns.index("company")] == "Line\nbreak"
    assert odd[columns.index("phone")] == "'+33612345678"
    assert odd[columns.index("attributes.note")] == "'-x"
    assert (
        next(r for r in rows if r[1] == "cat@example.com")[columns.index("tags")] == "apple; Zebra; été"
    )  # code point order


@pytest.mark.parametrize("use_copy", [True, False])
def test_chunks_keep_every_row_once_in_creation_order(tenant, monkeypatch, use_copy):
    monkeypatch.setattr(exports, "CHUNK_SIZE", 3)
    contacts = [ContactFactory(tenant=tenant, email=f"p{n}@example.com") for n in range(10)]
    # An import batch gives its contacts one created_at: ties across chunk boundaries go by id.
    tied = Contact.objects.unscoped().filter(pk__in=[c.pk for c in contacts[2:8]])
    tied.update(created_at=contacts[2].created_at)
    tag(tenant, contacts[::2], "Even")
    out = io.BytesIO()

    count = exports.export_write(
        tenant=tenant, filters={}, columns=["email", "tags"], out=out, use_copy=use_copy
    )

    assert count == 10
    lines = out.getvalue().decode().splitlines()
    assert lines[1:] == [f"p{n}@example.com,{'Even' if n % 2 == 0 else ''}" for n in range(10)]


@pytest.mark.parametrize("use_copy", [True, False])
def test_query_count_does_not_grow_with_the_number_of_contacts(tenant, other_tenant, use_copy):
    def queries_for(tenant, size: int) -> int:
        contacts = [ContactFactory(tenant=tenant) for _ in range(size)]
        tag(tenant, contacts, "One", "Two")
        add_to_list(tenant, contacts, "All")
        with CaptureQueriesContext(connection) as captured:
            count = exports.export_write(
                tenant=tenant, filters={"tags": "One"}, columns=[*exports.DEFAULT_COLUMNS, "lists"],
                out=io.BytesIO(), use_copy=use_copy,
            )  # fmt: skip
        assert count == size
        return len(captured)

    few = queries_for(tenant, 10)
    assert few == queries_for(other_tenant, 200)
    assert few <= 6  # tag names, savepoint, cursor, COPY (or tags and lists), release


def test_the_task_runs_a_handful_of_queries_and_counts_the_rows_it_wrote(
    api, tenant, django_assert_max_num_queries, people
):
    job = api.post(EXPORTS, {"columns": ["email", "tags", "lists"]}, format="json").json()

    # job, lock, status again under the lock, running, the tenant's erasures so far, ranges, the chunk
    # (savepoint, jit off, COPY, release), the erasures again (none while written), unlock, completed
    # (savepoint, status under a row lock, update, release)
    with django_assert_max_num_queries(16):
        assert exports.export_process(job["id"]) == "completed"

    done = api.get(detail_url(job["id"])).json()
    assert done["row_count"] == 3
    assert len(rows_of(api, done)) == 1 + 3


def test_list_is_newest_first_and_shows_only_this_tenant(api, client_for, other_tenant, export, people):
    first, second = export(columns=["email"]), export(columns=["id"])
    client_for(other_tenant).post(EXPORTS, {}, format="json")

    listed = api.get(EXPORTS).json()["results"]

    assert [j["id"] for j in listed] == [second["id"], first["id"]]
    assert all(j["download_url"] for j in listed)


def test_a_queued_export_has_no_link_yet(api, people):
    job = api.post(EXPORTS, {}, format="json").json()  # on_commit never runs inside the test transaction

    assert (job["status"], job["download_url"], job["expires_at"]) == ("queued", None, None)


def test_another_tenants_export_is_404(api, client_for, other_tenant, export, people):
    job = export()
    token = parse_qs(urlparse(job["download_url"]).query)["token"][0]
    stranger = client_for(other_tenant, Role.OWNER)

    assert stranger.get(detail_url(job["id"])).status_code == 404
    assert fetch(stranger, download_url(job["id"], token))[0].status_code == 404


def test_a_valid_link_works_only_for_a_user_of_the_same_tenant(
    api, user_client_for, tenant, other_tenant, export, people
):
    job = export()
    member, _ = user_client_for(tenant, Role.MARKETING_MANAGER)
    stranger, _ = user_client_for(other_tenant, Role.OWNER)

    response, body = fetch(stranger, job["download_url"])
    assert response.status_code == 404
    assert b"ann@example.com" not in body
    response, body = fetch(member, job["download_url"])
    assert response.status_code == 200
    assert b"ann@example.com" in body


def test_a_link_signed_more_than_a_day_ago_is_410_and_reading_the_job_signs_a_new_one(
    api, export, people, monkeypatch
):
    job_id = export()["id"]
    real_time = time.time
    with monkeypatch.context() as patched:
        patched.setattr(time, "time", lambda: real_time() - 24 * 3600 - 5)  # the default max age is 24 h
        old = api.get(detail_url(job_id)).json()
    assert fetch(api, old["download_url"])[0].status_code == 410

    fresh = api.get(detail_url(job_id)).json()
    assert fetch(api, fresh["download_url"])[0].status_code == 200


def test_expired_link_is_410_token_expired(api, export, people, settings):
    job = export()
    settings.EXPORT_LINK_MAX_AGE = -1

    response = api.get(job["download_url"])

    assert response.status_code == 410
    assert response.json()["code"] == "token_expired"


def test_expires_at_follows_the_setting(api, export, people, settings):
    settings.EXPORT_LINK_MAX_AGE = 3600
    before = timezone.now()
    job = export()
    expires_at = timezone.datetime.fromisoformat(job["expires_at"])
    assert (
        before + timezone.timedelta(seconds=3598)
        <= expires_at
        <= timezone.now() + timezone.timedelta(hours=1)
    )


def test_tampered_missing_or_foreign_tokens_are_400(api, export, people):
    job, other = export(), export(columns=["email"])
    token = parse_qs(urlparse(job["download_url"]).query)["token"][0]
    other_token = parse_qs(urlparse(other["download_url"]).query)["token"][0]
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "", "nonsense", other_token):
        response = api.get(download_url(job["id"], bad))
        assert response.status_code == 400, bad
        assert response.json()["code"] == "invalid_token"
        assert response.json()["errors"][0]["field"] == "token"
    forged = signing.TimestampSigner(salt="another.salt").sign_object({"t": "x", "e": job["id"]})
    assert api.get(download_url(job["id"], forged)).status_code == 400


@pytest.mark.parametrize("method", ["list", "create", "detail", "download"])
def test_a_role_without_contacts_export_gets_403_and_nothing_happens(
    api, client_for, tenant, export, people, method
):
    job = export()
    viewer = client_for(tenant, Role.CONTACTS_VIEWER)
    call = {
        "list": lambda: viewer.get(EXPORTS),
        "create": lambda: viewer.post(EXPORTS, {}, format="json"),
        "detail": lambda: viewer.get(detail_url(job["id"])),
        "download": lambda: viewer.get(job["download_url"]),
    }[method]

    response = call()

    assert response.status_code == 403
    assert ExportJob.objects.unscoped().count() == 1


def test_marketing_manager_may_export_and_anonymous_may_not(client_for, anon, tenant, export, people):
    assert export(client=client_for(tenant, Role.MARKETING_MANAGER))["status"] == "completed"
    assert anon.post(EXPORTS, {}, format="json").status_code == 401


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"filters": {"colour": "red"}}, "filters.colour", "unknown"),
        ({"filters": {"ordering": "email"}}, "filters.ordering", "unknown"),
        ({"filters": {"status": "sleeping"}}, "filters.status", "invalid_choice"),
        ({"filters": {"created_after": "yesterday"}}, "filters.created_after", "invalid"),
        ({"filters": {"list": "not-a-uuid"}}, "filters.list", "invalid"),
        ({"filters": {"consent": "email:nothing:granted"}}, "filters.consent", "invalid"),
        ({"filters": {"search": 42}}, "filters.search", "invalid"),
        ({"filters": {"search": ["a", "b"]}}, "filters.search", "invalid"),
        ({"filters": {"search": "x" * 201}}, "filters.search", "max_length"),
        ({"filters": "status=active"}, "filters", "not_a_dict"),
        ({"columns": []}, "columns", "empty"),
        ({"columns": ["email", "password"]}, "columns.1", "unknown"),
        ({"columns": ["email", "attributes.nope"]}, "columns.1", "unknown"),
        ({"columns": ["email", "email"]}, "columns.1", "duplicate"),
        ({"delimiter": "x"}, "delimiter", "invalid_choice"),
        ({"format": "xlsx"}, "format", "invalid"),
    ],
)
def test_bad_filters_and_columns_are_400_naming_the_field_and_create_nothing(api, people, body, field, code):
    response = api.post(EXPORTS, body, format="json")

    assert response.status_code == 400, response.json()
    errors = response.json()["errors"]
    assert (errors[0]["field"], errors[0]["code"]) == (field, code), errors
    assert ExportJob.objects.unscoped().count() == 0


def test_a_job_that_cannot_write_its_file_fails_with_a_reason(api, export, people, monkeypatch):
    from django.core.files.storage import default_storage

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(default_storage, "save", broken)
    job = export()

    assert job["status"] == "failed"
    assert "worker log" in job["error"]
    assert job["download_url"] is None


def test_running_a_job_again_rewrites_the_same_file(api, export, people):
    job = export()
    ExportJob.objects.unscoped().filter(pk=job["id"]).update(status="running")  # a redelivered message

    assert exports.export_process(job["id"]) == "completed"
    again = api.get(detail_url(job["id"])).json()
    assert (again["row_count"], again["file_size"]) == (job["row_count"], job["file_size"])
    assert rows_of(api, again) == rows_of(api, job)
    assert exports.export_process(job["id"]) == "nothing to do"


def test_a_redelivered_run_that_waited_for_a_finished_one_leaves_its_file(api, export, people, monkeypatch):
    """The status is read again under the job's lock: a message that waited while another run
    finished must not reopen the job and rewrite (delete, then save) its file."""
    from contextlib import contextmanager

    job = export(columns=["email"])
    assert job["status"] == "completed"
    before = fetch(api, job["download_url"])[1]
    stored = ExportJob.objects.unscoped().get(pk=job["id"])
    ExportJob.objects.unscoped().filter(pk=stored.pk).update(status="running")  # as the waiting run saw it
    real_lock = exports._job_lock

    @contextmanager
    def lock_after_the_other_run_finished(job_id):
        ExportJob.objects.unscoped().filter(pk=job_id).update(status="completed")
        with real_lock(job_id) as acquired:
            yield acquired

    monkeypatch.setattr(exports, "_job_lock", lock_after_the_other_run_finished)
    assert exports.export_process(stored.pk) == "nothing to do"
    after = ExportJob.objects.unscoped().get(pk=stored.pk)
    assert (after.status, after.finished_at, after.file) == ("completed", stored.finished_at, stored.file)
    assert fetch(api, job["download_url"])[1] == before


def _held_elsewhere(job_id):
    """A session of another process holding the job's lock, as a worker writing it does."""
    import psycopg
    from django.db import connection

    params = connection.get_connection_params()
    other = psycopg.connect(
        dbname=params["dbname"], host=params.get("host"), port=params.get("port"), user=params.get("user"),
        autocommit=True,
    )  # fmt: skip
    key = [exports.LOCK_CLASS, int.from_bytes(uuid.UUID(str(job_id)).bytes[-4:], "big", signed=True)]
    other.execute("SELECT pg_advisory_lock(%s, %s)", key)
    return other


def test_exports_nobody_writes_are_queued_again_once_per_stall_window(api, people, settings):
    from django.core.cache import cache

    settings.EXPORT_STALL_SECONDS = 60
    lost = api.post(EXPORTS, {}, format="json").json()  # queued; its message never runs (lost)
    killed = api.post(EXPORTS, {}, format="json").json()
    writing = api.post(EXPORTS, {}, format="json").json()
    fresh = api.post(EXPORTS, {}, format="json").json()
    long_ago = timezone.now() - dt.timedelta(minutes=5)
    ExportJob.objects.unscoped().filter(pk__in=[lost["id"], killed["id"], writing["id"]]).update(
        created_at=long_ago
    )
    ExportJob.objects.unscoped().filter(pk__in=[killed["id"], writing["id"]]).update(
        status="running", started_at=long_ago
    )
    other = _held_elsewhere(writing["id"])
    try:
        assert exports.exports_requeue_stalled() == 2  # tasks run eagerly here
    finally:
        other.close()
    status = {j["id"]: j["status"] for j in api.get(EXPORTS).json()["results"]}
    assert (status[lost["id"]], status[killed["id"]]) == ("completed", "completed")
    assert (status[writing["id"]], status[fresh["id"]]) == ("running", "queued")
    ExportJob.objects.unscoped().filter(pk=writing["id"]).update(status="running")
    assert exports.exports_requeue_stalled() == 1  # the writer is gone now
    ExportJob.objects.unscoped().filter(pk=lost["id"]).update(status="queued")
    assert exports.exports_requeue_stalled() == 0  # queued again a moment ago: its message has time
    cache.clear()


def test_old_export_files_are_deleted_and_their_download_is_410(api, export, people, settings):
    from django.core.files.storage import default_storage

    old, recent = export(), export()
    stored = ExportJob.objects.unscoped().get(pk=old["id"])
    ExportJob.objects.unscoped().filter(pk=old["id"]).update(
        finished_at=timezone.now() - dt.timedelta(seconds=settings.EXPORT_FILE_RETENTION_SECONDS + 60)
    )
    assert exports.exports_prune() == 1 and exports.exports_prune() == 0
    assert not default_storage.exists(stored.file)
    response, body = fetch(api, old["download_url"])
    assert response.status_code == 410 and json.loads(body)["code"] == "file_gone"
    shown = api.get(detail_url(old["id"])).json()
    assert (shown["status"], shown["download_url"], shown["row_count"]) == ("completed", None, 3)
    assert rows_of(api, api.get(detail_url(recent["id"])).json())  # younger files stay

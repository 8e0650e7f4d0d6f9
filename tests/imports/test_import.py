"""CSV import as a user sees it: upload, preview, mapping, run, counters, events, errors.csv."""

import pytest
from django.urls import reverse

from contacts.models import Contact
from contacts_service.roles import Role
from events.models import OutboxEvent
from imports.models import ImportJob
from lists.models import ListMembership
from tags.models import TagAssignment
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.imports.conftest import job_url, run, upload

CSV = """Email,First Name,Last Name,Company,Phone,Country,Score,Tags
ann@example.com,Ann,Lee,Acme,06 12 34 56 78,FR,10,VIP;Lead
BOB@example.com,Bob,Stone,Initech,,DE,3,
not-an-email,Cat,,,,,,
bob@example.com,Robert,Stone,Initech,,DE,7,
"""


@pytest.fixture
def score(tenant):
    return AttributeDefinitionFactory(tenant=tenant, key="score", type="number")


def test_upload_detects_and_suggests_and_previews(api, score):
    response = upload(api, CSV)
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["status"] == "draft"
    assert (job["encoding"], job["delimiter"], job["total_rows"]) == ("utf-8", ",", 4)
    assert job["mapping"] == {"Email": "email", "First Name": "first_name", "Last Name": "last_name",
                              "Company": "company", "Phone": "phone", "Country": "country",
                              "Score": "attributes.score", "Tags": "tags"}  # fmt: skip
    assert job["dedupe_key"] == "email"
    assert job["problems"] == []
    preview = {row["line"]: row for row in job["preview"]}
    assert preview[2]["action"] == "create"
    assert preview[2]["values"]["phone"] == "+33612345678"
    assert preview[2]["values"]["tags"] == ["VIP", "Lead"]
    assert preview[3]["action"] == "skip"  # a later row has the same email (any case)
    assert preview[4]["action"] == "error"
    assert any("email" in reason for reason in preview[4]["errors"])
    assert preview[5]["action"] == "create"
    assert Contact.objects.unscoped().count() == 0  # the preview writes nothing


def test_run_creates_updates_tags_lists_events_and_counts_exactly(api, tenant, score):
    ContactFactory(tenant=tenant, email="ann@example.com", first_name="Annie", company="")
    static = api.post(reverse("list-list"), {"name": "Imported"}, format="json").json()
    job_id = upload(api, CSV).json()["id"]
    job = run(api, job_id, list_id=static["id"], tags=["Spring import"])

    assert job["status"] == "completed_with_errors"
    assert (job["processed_rows"], job["created"], job["updated"], job["duplicates"], job["failed"]) == (
        4,
        1,
        1,
        1,
        1,
    )
    ann = Contact.objects.unscoped().get(tenant=tenant, email="ann@example.com")
    assert (ann.first_name, ann.company, ann.phone, ann.attributes) == (
        "Ann",
        "Acme",
        "+33612345678",
        {"score": 10},
    )
    bob = Contact.objects.unscoped().get(tenant=tenant, email="bob@example.com")
    assert bob.first_name == "Robert"  # the last row with this email wins
    assert {t.tag.name for t in TagAssignment.objects.unscoped().filter(contact=ann)} == {
        "VIP",
        "Lead",
        "Spring import",
    }
    assert ListMembership.objects.unscoped().filter(contact_list_id=static["id"]).count() == 2
    events = OutboxEvent.objects.unscoped().filter(tenant=tenant)
    assert events.filter(event_type="contact.updated", aggregate_id=ann.pk).count() == 1
    assert events.filter(event_type="contact.created", aggregate_id=bob.pk).count() == 1
    assert events.filter(event_type="contact.tagged").count() == 4
    assert events.filter(event_type="contact.added_to_list").count() == 2
    seqs = list(events.filter(aggregate_id=ann.pk).order_by("id").values_list("sequence", flat=True))
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    [done] = events.filter(event_type="import.completed")
    assert done.payload["data"]["created"] == 1 and done.payload["data"]["failed"] == 1
    history = api.get(reverse("contact-history", kwargs={"pk": ann.pk})).json()["results"]
    assert {(e["field"], e["source"]) for e in history} >= {("first_name", "import")}

    errors = api.get(job_url(job_id, "errors"))
    assert errors.status_code == 200
    text = b"".join(errors.streaming_content).decode()
    assert text.splitlines()[0].startswith("line,errors,Email")
    assert "4," in text and "not-an-email" in text


def test_on_match_fill_empty_and_skip(api, tenant):
    ContactFactory(tenant=tenant, email="ann@example.com", first_name="Annie", company="")
    job_id = upload(api, "email,first_name,company\nann@example.com,Ann,Acme\n").json()["id"]
    job = run(api, job_id, on_match="fill_empty")
    ann = Contact.objects.unscoped().get(email="ann@example.com")
    assert (ann.first_name, ann.company, job["updated"]) == ("Annie", "Acme", 1)
    job_id = upload(api, "email,first_name,company\nann@example.com,Zed,Zeta\n").json()["id"]
    job = run(api, job_id, on_match="skip")
    ann.refresh_from_db()
    assert (ann.first_name, ann.company, job["skipped"], job["status"]) == ("Annie", "Acme", 1, "completed")


def test_reimporting_the_same_file_changes_nothing(api, tenant):
    content = "email,first_name\nann@example.com,Ann\nbob@example.com,Bob\n"
    run(api, upload(api, content).json()["id"])
    events_before = OutboxEvent.objects.unscoped().filter(event_type__startswith="contact.").count()
    job = run(api, upload(api, content).json()["id"])
    assert (job["created"], job["updated"], job["unchanged"]) == (0, 0, 2)
    assert OutboxEvent.objects.unscoped().filter(event_type__startswith="contact.").count() == events_before


@pytest.mark.parametrize(
    ("content", "encoding", "delimiter"),
    [
        ("\ufeffemail;name\nzoé@example.com;Zoé\n", "utf-8", ";"),
        ("email\tname\nzoe@example.com\tZoé\n", "utf-16", "\t"),
        ("email|name\nzoe@example.com|Zoé\n", "latin-1", "|"),
        ("email,name\nzoe@example.com,Zoé\n", "cp1252", ","),
    ],
)
def test_encodings_and_delimiters(api, content, encoding, delimiter):
    response = upload(api, content, encoding=encoding)
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["delimiter"] == delimiter
    assert job["header"] == ["email", "name"]
    assert job["mapping"]["name"] == "display_name"
    assert job["preview"][0]["values"]["display_name"] == "Zoé"


def test_a_file_from_excels_plain_csv_export_keeps_its_quotes_dashes_and_euros(api, tenant):
    """Not UTF-8: read as windows-1252, what Excel's plain "CSV" writes (a curly quote came in as the
    control character \x92 when read as Latin-1); a byte windows-1252 leaves unassigned (0x81) reads as
    Latin-1 reads it."""
    content = "email,first_name,company\nann@example.com,O’Brien,Café – “Œuvre” €\n".encode("cp1252")
    content += b"bob@example.com,B\x81b,X\n"
    response = upload(api, content)
    assert response.status_code == 201, response.json()
    assert response.json()["encoding"] == "windows-1252"
    job = run(api, response.json()["id"])
    assert (job["created"], job["failed"]) == (2, 0), job
    ann = Contact.objects.for_tenant(tenant).get(email="ann@example.com")
    assert (ann.first_name, ann.company) == ("O’Brien", "Café – “Œuvre” €")
    assert Contact.objects.for_tenant(tenant).get(email="bob@example.com").first_name == "B\x81b"


def test_gzip_upload(api):
    job = upload(api, "email\nann@example.com\n", name="c.csv.gz", gz=True).json()
    assert job["compressed"] is True
    assert run(api, job["id"])["created"] == 1


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("", "empty_file"),
        ("email,first_name\n", "no_rows"),
        ('email,first_name\nann@example.com,"Ann\n' + "x" * 100, "malformed_csv"),
        (b"\x00\x01\x02\x03binary\x00\x00garbage\x00", "binary_file"),
    ],
)
def test_bad_files_are_refused_before_processing(api, content, code):
    response = upload(api, content)
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert not ImportJob.objects.unscoped().exists()


def test_limits_give_413_or_400(api, settings):
    settings.IMPORT_MAX_ROWS = 2
    response = upload(api, "email\na@x.com\nb@x.com\nc@x.com\n")
    assert (response.status_code, response.json()["code"]) == (400, "too_many_rows")
    settings.IMPORT_MAX_FILE_BYTES = 10
    response = upload(api, "email\na@x.com\n")
    assert (response.status_code, response.json()["code"]) == (413, "too_large")
    settings.IMPORT_MAX_FILE_BYTES = 1000
    bomb = upload(api, "email\n" + "a@x.com\n" * 10_000, gz=True)  # 80 KB once unpacked
    assert (bomb.status_code, bomb.json()["code"]) == (413, "too_large")


def test_mapping_without_identity_cannot_start(api):
    job = upload(api, "name,city\nAnn,Paris\n").json()
    assert job["problems"][0]["code"] == "no_identity"
    assert api.post(job_url(job["id"], "start")).status_code == 400
    response = api.patch(job_url(job["id"]), {"mapping": {"name": "nope"}}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "mapping.name"


def test_a_huge_field_and_a_bad_phone_are_row_errors(api):
    content = (
        "email,company,phone\nann@example.com,"
        + "x" * 1_000_000
        + ",\nbob@example.com,B,12\ncat@example.com,C,\n"
    )
    job = run(api, upload(api, content).json()["id"])
    assert (job["created"], job["failed"], job["status"]) == (1, 2, "completed_with_errors")


def test_permissions_and_tenancy(client_for, tenant, other_tenant, api):
    job_id = upload(api, "email\nann@example.com\n").json()["id"]
    viewer = client_for(tenant, Role.MARKETING_MANAGER)
    assert upload(viewer, "email\nx@example.com\n").status_code == 403
    assert viewer.get(job_url(job_id)).status_code == 403
    stranger = client_for(other_tenant)
    assert stranger.get(job_url(job_id)).status_code == 404
    assert stranger.post(job_url(job_id, "start")).status_code == 404
    assert stranger.get(job_url(job_id, "errors")).status_code == 404
    assert ImportJob.objects.unscoped().get(pk=job_id).status == "draft"


def test_dedupe_by_external_id_updates_that_contact_and_refuses_an_email_held_by_another(
    api, tenant, other_tenant
):
    crm = ContactFactory(tenant=tenant, email="old@example.com", external_id="crm-1", first_name="Old")
    ContactFactory(tenant=tenant, email="taken@example.com", external_id="crm-9")
    gone = ContactFactory(tenant=tenant, email="gone@example.com", external_id="crm-3")
    gone.deleted_at = gone.created_at
    gone.save()
    theirs = ContactFactory(
        tenant=other_tenant, email="x@example.com", external_id="crm-2", first_name="Theirs"
    )
    content = (
        "external_id,email,first_name\n"
        "crm-1,new@example.com,New\n"  # matched by external id: its email changes
        "crm-2,two@example.com,Two\n"  # another tenant's crm-2 is not a match: created here
        "crm-3,three@example.com,Three\n"  # crm-3 was deleted: created again
        "crm-4,taken@example.com,Four\n"  # the email belongs to another contact (crm-9): row error
    )
    job_id = upload(api, content).json()["id"]
    job = run(api, job_id, dedupe_key="external_id")
    assert (job["created"], job["updated"], job["failed"]) == (2, 1, 1), b"".join(
        api.get(job_url(job_id, "errors")).streaming_content
    ).decode()
    crm.refresh_from_db()
    assert (crm.email, crm.first_name) == ("new@example.com", "New")
    live = Contact.objects.for_tenant(tenant).filter(deleted_at__isnull=True)
    assert live.get(external_id="crm-2").email == "two@example.com"
    assert live.get(external_id="crm-3").email == "three@example.com"
    assert not live.filter(external_id="crm-4").exists()
    theirs.refresh_from_db()
    assert (theirs.email, theirs.first_name) == ("x@example.com", "Theirs")
    errors = b"".join(api.get(job_url(job_id, "errors")).streaming_content).decode()
    assert "Another contact" in errors and "taken@example.com" in errors


def test_dedupe_by_phone_updates_the_oldest_contact_with_that_phone(api, tenant, other_tenant):
    first = ContactFactory(tenant=tenant, email="a@example.com", phone="+33612345678", company="Old")
    ContactFactory(tenant=tenant, email="b@example.com", phone="+33612345678", company="Old")
    ContactFactory(tenant=other_tenant, email="c@example.com", phone="+33698765432", company="Theirs")
    content = "phone,company\n+33 6 12 34 56 78,New\n+33 6 98 76 54 32,Made\n"
    job = run(api, upload(api, content).json()["id"], dedupe_key="phone")
    assert (job["created"], job["updated"]) == (1, 1), b"".join(
        api.get(job_url(job["id"], "errors")).streaming_content
    ).decode()
    first.refresh_from_db()
    assert first.company == "New"
    assert Contact.objects.for_tenant(tenant).get(email="b@example.com").company == "Old"
    assert Contact.objects.for_tenant(tenant).get(phone="+33698765432").company == "Made"
    assert Contact.objects.for_tenant(other_tenant).get(phone="+33698765432").company == "Theirs"


def test_reimporting_into_the_same_list_and_tags_adds_only_the_missing_links(api, tenant):
    static = api.post(reverse("list-list"), {"name": "Imported"}, format="json").json()
    first = "email,first_name,tags\nann@example.com,Ann,VIP\nbob@example.com,Bob,\n"
    run(api, upload(api, first).json()["id"], list_id=static["id"], tags=["Spring"])
    events = OutboxEvent.objects.unscoped().filter(tenant=tenant)
    assert events.filter(event_type="contact.tagged").count() == 3  # ann: VIP, Spring; bob: Spring
    assert events.filter(event_type="contact.added_to_list").count() == 2
    # Again, plus a tag bob lacks and a new contact: only those links (and their events) are added.
    second = "email,first_name,tags\nann@example.com,Ann,VIP\nbob@example.com,Bob,VIP\ncat@example.com,Cat,\n"
    job = run(api, upload(api, second).json()["id"], list_id=static["id"], tags=["Spring"])
    assert (job["created"], job["unchanged"], job["failed"]) == (1, 2, 0), job
    assert events.filter(event_type="contact.tagged").count() == 3 + 1 + 1  # bob: VIP; cat: Spring
    assert events.filter(event_type="contact.added_to_list").count() == 2 + 1  # cat
    pairs = TagAssignment.objects.unscoped().filter(tenant=tenant).values_list("contact__email", "tag__name")
    assert sorted(pairs) == [
        ("ann@example.com", "Spring"),
        ("ann@example.com", "VIP"),
        ("bob@example.com", "Spring"),
        ("bob@example.com", "VIP"),
        ("cat@example.com", "Spring"),
    ]
    assert ListMembership.objects.unscoped().filter(contact_list_id=static["id"]).count() == 3

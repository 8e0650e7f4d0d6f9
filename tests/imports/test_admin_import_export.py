"""Operators' import and export of one tenant's contacts in the Django admin (django-import-export)."""

import csv
import datetime as dt
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.gdpr import contact_erase
from contacts.models import Contact, ContactChange, ContactChangeEntry
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from events.models import OutboxEvent, TimelineEntry
from imports.exports import DEFAULT_COLUMNS
from imports.resources import ContactResource
from tags.models import Tag, TagAssignment
from tags.services import contact_tag
from tests.factories import AttributeDefinitionFactory, ContactFactory, UserFactory

CHANGELIST = reverse("admin:contacts_contact_changelist")
EXPORT = reverse("admin:contacts_contact_export")
IMPORT = reverse("admin:contacts_contact_import")
PROCESS_IMPORT = reverse("admin:contacts_contact_process_import")
ALL_COLUMNS = {f"contactresource_{name}": "on" for name in ContactResource().get_export_order()}


def export_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.content[:2000]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def upload(client, tenant, content: str):
    """The first step: the file, the tenant and the format; returns the preview page."""
    data = {"format": "0", "import_file": SimpleUploadedFile("contacts.csv", content.encode(), "text/csv")}
    if tenant is not None:
        data["tenant"] = str(tenant.pk)
    return client.post(IMPORT, data)


def confirm(client, preview):
    """The second step: post the preview's confirm form back."""
    form = preview.context["confirm_form"]
    assert form is not None, preview.content.decode()[:3000]
    return client.post(PROCESS_IMPORT, {name: form.initial.get(name, "") for name in form.fields})


def waiting(media) -> list[str]:
    """Uploads kept for the confirm step."""
    folder = media / "django-import-export"
    return [f.name for f in folder.iterdir()] if folder.exists() else []


def written() -> tuple[int, ...]:
    """Rows of every table an import writes to."""
    return tuple(
        model.objects.unscoped().count()
        for model in (Contact, ContactChange, TimelineEntry, OutboxEvent, Tag, TagAssignment)
    )


# -- export -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_export_for_a_tenant_has_only_its_live_contacts_with_formula_cells_neutralised(
    operator_client, tenant, other_tenant
):
    AttributeDefinitionFactory(tenant=tenant, key="plan")
    formula = ContactFactory(
        tenant=tenant,
        email="f@example.com",
        first_name='=HYPERLINK("http://x")',
        last_name="+1",
        company="@SUM(A1)",
        city="-2",
        external_id="\tcrm",
        attributes={"plan": "=cmd|' /C calc'!A0"},
        created_at=dt.datetime(2020, 1, 31, 10, 5, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=1))),
    )
    plain = ContactFactory(tenant=tenant, email="p@example.com", first_name="Plain", company="", phone=None)
    contact_tag(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=plain.pk, names=["vip", "Alpha"])
    ContactFactory(tenant=tenant, email="gone@example.com", deleted_at=timezone.now())
    ContactFactory(tenant=other_tenant, email="globex@example.com")

    page = operator_client.get(EXPORT)
    assert page.status_code == 200 and 'name="tenant"' in page.content.decode()
    response = operator_client.post(EXPORT, {"tenant": str(tenant.pk), "format": "0", **ALL_COLUMNS})

    rows = export_rows(response)
    assert list(rows[0]) == [*DEFAULT_COLUMNS, "attributes.plan"]
    assert [row["email"] for row in rows] == ["f@example.com", "p@example.com"]
    by_email = {row["email"]: row for row in rows}
    cells = by_email["f@example.com"]
    assert cells["id"] == str(formula.pk)
    assert cells["first_name"] == '\'=HYPERLINK("http://x")'
    assert (cells["last_name"], cells["company"], cells["city"]) == ("'+1", "'@SUM(A1)", "'-2")
    assert cells["external_id"] == "'\tcrm"
    assert cells["attributes.plan"] == "'=cmd|' /C calc'!A0"
    assert cells["created_at"] == "2020-01-31 09:05:00"
    assert by_email["p@example.com"]["tags"] == "Alpha; vip"
    assert by_email["p@example.com"]["phone"] == "" and by_email["p@example.com"]["attributes.plan"] == ""


@pytest.mark.django_db
def test_export_of_rows_selected_on_the_list_keeps_only_the_chosen_tenants(
    operator_client, tenant, other_tenant
):
    chosen = ContactFactory(tenant=tenant, email="chosen@example.com")
    ContactFactory(tenant=tenant, email="not-selected@example.com")
    foreign = ContactFactory(tenant=other_tenant, email="foreign@example.com")
    selected = [str(chosen.pk), str(foreign.pk)]

    page = operator_client.post(CHANGELIST, {"action": "export_admin_action", "_selected_action": selected})
    assert page.status_code == 200 and "Export 2 selected items" in page.content.decode()
    response = operator_client.post(
        EXPORT, {"tenant": str(tenant.pk), "format": "0", "export_items": selected, **ALL_COLUMNS}
    )

    assert [row["email"] for row in export_rows(response)] == ["chosen@example.com"]


@pytest.mark.django_db
def test_export_action_on_one_tenants_rows_preselects_that_tenant(operator_client, tenant):
    contacts = [ContactFactory(tenant=tenant), ContactFactory(tenant=tenant)]
    page = operator_client.post(
        CHANGELIST, {"action": "export_admin_action", "_selected_action": [str(c.pk) for c in contacts]}
    )
    assert page.context["form"].initial["tenant"] == tenant.pk


@pytest.mark.django_db
def test_export_queries_do_not_grow_with_the_number_of_contacts(operator_client, tenant):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            export_rows(
                operator_client.post(EXPORT, {"tenant": str(tenant.pk), "format": "0", **ALL_COLUMNS})
            )
        return len(captured)

    for _ in range(2):
        contact_tag(
            tenant=tenant, actor=SYSTEM_ACTOR, contact_id=ContactFactory(tenant=tenant).pk, names=["a"]
        )
    few = queries()
    for _ in range(5):
        contact_tag(
            tenant=tenant, actor=SYSTEM_ACTOR, contact_id=ContactFactory(tenant=tenant).pk, names=["b"]
        )
    assert queries() == few


def test_export_needs_the_view_permission_and_import_the_change_permission(client, db):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert client.get(EXPORT).status_code == 403
    assert client.get(IMPORT).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="view_contact"))
    assert client.get(EXPORT).status_code == 200
    assert client.get(IMPORT).status_code == 403

    staff.user_permissions.add(Permission.objects.get(codename="change_contact"))
    assert client.get(IMPORT).status_code == 200


# -- import -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_previews_without_writing_then_writes_through_the_services_in_that_tenant_only(
    operator_client, operator, tenant, other_tenant, django_capture_on_commit_callbacks, media
):
    AttributeDefinitionFactory(tenant=tenant, key="plan")
    ann = ContactFactory(tenant=tenant, email="ann@example.com", first_name="Ann", country="")
    twin = ContactFactory(tenant=other_tenant, email="ann@example.com", first_name="Other")
    twin_before = Contact.objects.unscoped().values().get(pk=twin.pk)
    before = written()
    content = (
        "id,email,first_name,last_name,country,tags,attributes.plan,created_at\n"
        "ignored,ANN@Example.com ,Annie,,fr,vip,,2020-01-01\n"
        ",new@example.com,Neo,Smith,US,,gold,\n"
    )

    with django_capture_on_commit_callbacks() as callbacks:
        preview = upload(operator_client, tenant, content)
    assert preview.status_code == 200
    result = preview.context["result"]
    assert not result.has_errors() and not result.has_validation_errors()
    assert [row.import_type for row in result.valid_rows()] == ["update", "new"]
    assert written() == before and callbacks == []
    assert Contact.objects.unscoped().get(pk=ann.pk).first_name == "Ann"
    assert len(waiting(media)) == 1

    response = confirm(operator_client, preview)

    assert response.status_code == 302 and response["Location"] == CHANGELIST
    assert waiting(media) == []
    ann = Contact.objects.unscoped().get(pk=ann.pk)
    assert (ann.first_name, ann.country) == ("Annie", "FR")
    assert list(ann.tag_assignments.values_list("tag__name", flat=True)) == ["vip"]
    new = Contact.objects.unscoped().get(tenant=tenant, email="new@example.com")
    assert (new.first_name, new.last_name, new.country, new.attributes) == (
        "Neo",
        "Smith",
        "US",
        {"plan": "gold"},
    )
    assert new.source == "admin"
    assert Contact.objects.unscoped().values().get(pk=twin.pk) == twin_before
    assert not OutboxEvent.objects.unscoped().filter(aggregate_id=twin.pk).exists()
    assert not ContactChange.objects.unscoped().filter(contact_id=twin.pk).exists()

    actor = {"type": "user", "id": str(operator.pk), "label": operator.get_username()}
    events = {(e.aggregate_id, e.event_type): e for e in OutboxEvent.objects.unscoped().filter(tenant=tenant)}
    assert {(new.pk, "contact.created"), (ann.pk, "contact.updated"), (ann.pk, "contact.tagged")} <= set(
        events
    )
    assert events[(new.pk, "contact.created")].payload["actor"] == actor
    assert events[(ann.pk, "contact.updated")].payload["actor"] == actor
    changes = ContactChangeEntry.objects.unscoped().filter(contact_id=ann.pk)
    assert {c.field for c in changes} == {"first_name", "display_name", "country"}
    assert {(c.source, c.actor["id"]) for c in changes} == {("admin", str(operator.pk))}
    assert (
        ContactChangeEntry.objects.unscoped()
        .filter(contact_id=new.pk, field="email", source="admin")
        .exists()
    )
    assert TimelineEntry.objects.unscoped().filter(contact_id=new.pk, event_type="contact.created").exists()


@pytest.mark.django_db
def test_import_of_an_unchanged_contact_is_a_skip_and_records_nothing(operator_client, tenant):
    ContactFactory(tenant=tenant, email="same@example.com", first_name="Same")
    before = written()

    preview = upload(operator_client, tenant, "email,first_name\nsame@example.com,Same\n")
    assert [row.import_type for row in preview.context["result"].rows] == ["skip"]
    confirm(operator_client, preview)

    assert written() == before


@pytest.mark.django_db
def test_confirming_twice_imports_once(operator_client, tenant):
    preview = upload(operator_client, tenant, "email\nonce@example.com\n")
    confirm(operator_client, preview)
    after_first = written()

    again = confirm(operator_client, preview)

    assert again.status_code == 302 and again["Location"] == IMPORT
    assert written() == after_first
    assert "no longer waiting" in operator_client.get(IMPORT).content.decode()


@pytest.mark.django_db
def test_import_reports_each_bad_row_and_writes_nothing(operator_client, tenant, other_tenant, media):
    ContactFactory(tenant=tenant, email="holder@example.com", external_id="CRM-1")
    before = written()
    content = (
        "email,first_name,country,external_id\n"
        "good@example.com,Good,FR,\n"
        "not-an-email,Bad,,\n"
        "where@example.com,Where,ZZ,\n"
        "taken@example.com,Taken,,CRM-1\n"
    )

    preview = upload(operator_client, tenant, content)

    assert preview.status_code == 200 and preview.context.get("confirm_form") is None
    invalid = {row.number: row.error_dict for row in preview.context["result"].invalid_rows}
    assert set(invalid) == {2, 3, 4}
    assert invalid[2] == {"email": ["Enter a valid email address."]}
    assert list(invalid[3]) == ["country"]
    assert (
        list(invalid[4]) == ["external_id"] and "already has this external_id" in invalid[4]["external_id"][0]
    )
    page = preview.content.decode()
    assert "Some rows failed to validate" in page and "Enter a valid email address." in page
    assert written() == before
    assert waiting(media) == []  # a preview that cannot be confirmed does not keep the file


@pytest.mark.django_db
def test_import_does_not_bring_back_a_contact_erased_under_gdpr(operator_client, tenant):
    erased = ContactFactory(tenant=tenant, email="erased@example.com")
    with tenant_context(tenant):
        contact_erase(tenant=tenant, actor=SYSTEM_ACTOR, contact_id=erased.pk, source="admin")
    before = written()

    preview = upload(operator_client, tenant, "email\nErased@example.com\n")

    [row] = preview.context["result"].invalid_rows
    assert "erased under GDPR" in row.error_dict["email"][0]
    assert written() == before


@pytest.mark.django_db
def test_a_row_refused_at_the_confirm_step_rolls_every_row_back(operator_client, tenant):
    preview = upload(
        operator_client, tenant, "email,external_id\nfirst@example.com,\nsecond@example.com,CRM-9\n"
    )
    assert not preview.context["result"].has_validation_errors()
    ContactFactory(tenant=tenant, email="holder@example.com", external_id="CRM-9")  # taken meanwhile
    before = written()

    response = confirm(operator_client, preview)

    assert response.status_code == 302 and response["Location"] == IMPORT
    assert written() == before
    page = operator_client.get(IMPORT).content.decode()
    assert "Nothing was imported: row 2: external_id" in page


@pytest.mark.django_db
def test_a_file_problem_is_reported_and_no_row_is_run(operator_client, tenant):
    def problems(content: str) -> list[str]:
        result = upload(operator_client, tenant, content).context["result"]
        assert result.rows == [] and result.invalid_rows == []
        return [str(error.error) for error in result.base_errors]

    assert problems("first_name\nAnn\n") == [
        "The file needs an email column: the admin import matches contacts by email."
    ]
    assert problems("email,attributes.nope\na@example.com,x\n") == [
        "No custom attribute of this tenant is defined as attributes.nope."
    ]
    assert problems("Email,email\na@example.com,b@example.com\n") == ["Columns named more than once: email."]
    too_long = "email\n" + "".join(f"p{n}@example.com\n" for n in range(501))
    assert problems(too_long) == ["At most 500 rows here; import larger files with the API import."]
    assert Contact.objects.unscoped().count() == 0


@pytest.mark.django_db
def test_import_needs_a_tenant(operator_client):
    response = upload(operator_client, None, "email\na@example.com\n")
    assert response.context["form"].errors["tenant"] == ["This field is required."]
    assert Contact.objects.unscoped().count() == 0

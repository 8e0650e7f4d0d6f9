"""An operator in a real browser: logs in to the admin, opens a contact, imports a CSV file."""

import re

import pytest
from django.contrib.auth.models import Permission
from playwright.sync_api import expect

from contacts.models import Contact, ContactChangeEntry
from tests.factories import ContactFactory, TenantFactory, UserFactory

pytestmark = pytest.mark.browser

PASSWORD = "operator-password-42"


def staff_operator():
    """A staff user who may view and change contacts (the import's permission), not a superuser."""
    user = UserFactory(username="operator@example.test", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="contacts", codename__in=["view_contact", "change_contact"]
        )
    )
    return user


def log_in(page, username: str, password: str) -> None:
    page.goto("/admin/")
    expect(page).to_have_url("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_operator_logs_in_opens_a_contact_and_imports_a_csv(page):
    # Given a tenant with one contact, another tenant, and a staff operator
    acme, globex = TenantFactory(name="Acme"), TenantFactory(name="Globex")
    ann = ContactFactory(tenant=acme, email="ann@example.com", first_name="Ann", last_name="Lee", city="Lyon")
    ContactFactory(tenant=globex, email="ann@example.com", first_name="Other")
    operator = staff_operator()

    # A wrong password is refused on the page
    log_in(page, operator.username, "wrong")
    expect(page.locator(".errornote")).to_contain_text("Please enter the correct username and password")

    # When the operator logs in, the site administration lists contacts
    log_in(page, operator.username, PASSWORD)
    expect(page).to_have_url("/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    page.get_by_role("rowheader", name="Contacts").get_by_role("link").click()
    page.locator("#changelist-filter").get_by_role("link", name="Acme").click()
    acme_filter = f"/admin/contacts/contact/?tenant__id__exact={acme.pk}"
    expect(page).to_have_url(acme_filter)
    expect(page.locator("#result_list tbody tr")).to_have_count(1)

    # Then the contact's change page shows its fields (read-only: changes go through the services)
    page.get_by_role("link", name="Ann Lee").click()
    expect(page).to_have_url(re.compile(rf"/admin/contacts/contact/{ann.pk}/change/"))
    expect(page.locator(".field-email .readonly")).to_have_text("ann@example.com")
    expect(page.locator(".field-city .readonly")).to_have_text("Lyon")
    expect(page.locator(".field-tenant .readonly")).to_contain_text("Acme")

    # When they import a CSV into Acme from the list's Import button
    page.goto(acme_filter)
    page.get_by_role("link", name="Import").click()
    page.select_option("#id_tenant", label="Acme")
    page.set_input_files(
        "#id_import_file",
        files=[
            {
                "name": "contacts.csv",
                "mimeType": "text/csv",
                "buffer": b"email,first_name,last_name,city,tags\n"
                b"ann@example.com,Ann,Lee,Paris,\n"
                b"bob@example.com,Bob,Brown,Nantes,VIP\n",
            }
        ],
    )
    page.get_by_role("button", name="Submit").click()

    # Then the preview shows one new and one updated row, and nothing is written yet
    preview = page.locator("table.import-preview")
    expect(preview).to_contain_text("bob@example.com")
    expect(preview.locator("tr.new")).to_have_count(1)
    expect(preview.locator("tr.update")).to_have_count(1)
    assert not Contact.objects.unscoped().filter(email="bob@example.com").exists()

    # When they confirm
    page.get_by_role("button", name="Confirm import").click()

    # Then the list says what was imported and shows the rows; the other tenant's Ann is untouched
    expect(page.locator(".messagelist")).to_contain_text("1 new")
    expect(page.locator(".messagelist")).to_contain_text("1 update")
    page.goto(acme_filter)
    results = page.locator("#result_list")
    expect(results).to_contain_text("bob@example.com")
    expect(results).to_contain_text("Bob Brown")
    expect(results).to_contain_text("ann@example.com")
    acme_contacts = Contact.objects.unscoped().filter(tenant=acme)
    assert {(c.email, c.city) for c in acme_contacts} == {
        ("ann@example.com", "Paris"),
        ("bob@example.com", "Nantes"),
    }
    assert Contact.objects.unscoped().get(tenant=globex).first_name == "Other"
    change = ContactChangeEntry.objects.unscoped().get(contact_id=ann.pk, field="city")
    assert (change.source, change.actor["id"]) == ("admin", str(operator.pk))

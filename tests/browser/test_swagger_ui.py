"""A developer in a real browser: opens /api/docs/, authorizes with an API key and runs a call."""

import json
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from contacts_service import services
from contacts_service.roles import Role
from tests.factories import ContactFactory, TenantFactory

pytestmark = pytest.mark.browser


def test_swagger_ui_loads_from_this_server_authorizes_with_an_api_key_and_lists_contacts(page, web_server):
    # Given a tenant with a contact, another tenant's contact, and a viewer's API key of the first
    acme, globex = TenantFactory(name="Acme"), TenantFactory(name="Globex")
    ann = ContactFactory(tenant=acme, email="ann@example.com")
    ContactFactory(tenant=globex, email="globex-only@example.com")
    key = services.apikey_create(tenant=acme, name="docs", role=Role.CONTACTS_VIEWER).key
    requests, responses = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("response", lambda response: responses.append(response))

    # When the docs page opens
    page.goto("/api/docs/")

    # Then Swagger UI renders the schema, every file it loaded came from this server (no CDN), and
    # its static files were served by WhiteNoise (its headers; Django's own static view sets neither)
    # (the schema is generated on request: seconds on a loaded machine, past expect's 5 s default)
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Contacts service API", timeout=30_000)
    expect(page.locator("#operations-contacts-contacts_list")).to_be_visible()
    asked = {urlsplit(url).netloc for url in requests if url.startswith(("http:", "https:", "ws:", "wss:"))}
    assert asked == {urlsplit(web_server).netloc}
    assets = {urlsplit(r.url).path: r for r in responses if "/static/" in r.url}
    bundle = assets["/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"]
    assert bundle.status == 200
    assert "javascript" in bundle.headers["content-type"]
    assert bundle.headers["access-control-allow-origin"] == "*"
    assert "max-age=" in bundle.headers["cache-control"]
    assert assets["/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css"].status == 200

    # When they authorize with the API key and try GET /api/v1/contacts/
    page.get_by_role("button", name="Authorize").first.click()
    api_key = page.locator(".modal-ux .auth-container").filter(has=page.locator("h4 code", has_text="ApiKey"))
    api_key.locator("input").fill(f"Api-Key {key}")
    api_key.get_by_role("button", name="Apply credentials").click()
    expect(api_key).to_contain_text("Authorized")
    page.locator(".modal-ux .close-modal").click()

    operation = page.locator("#operations-contacts-contacts_list")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()

    # Then the page shows the request it sent (with the key) and a 200 listing only Acme's contact
    live = operation.locator(".live-responses-table")
    expect(live.locator("tbody .response-col_status")).to_have_text("200")
    expect(operation.locator(".curl-command")).to_contain_text(f"Authorization: Api-Key {key}")
    body = json.loads(live.locator("tbody .highlight-code pre").first.inner_text())
    assert [c["id"] for c in body["results"]] == [str(ann.pk)]
    assert body["results"][0]["email"] == "ann@example.com"
    assert body["count"] == 1

"""Two tenants for the schemathesis run: A holds one of everything, made through the API; B is empty."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, models, transaction
from django.urls import reverse
from rest_framework.test import APIClient

from contacts_service import services
from contacts_service.models import Tenant
from contacts_service.roles import Role
from tests.factories import MembershipFactory, TenantFactory, UserFactory

# A small, fixed run: the same requests on every machine (CI compares runs), a few seconds per operation.
FUZZ_CONFIG = {
    "seed": 20240601,
    "generation": {
        "mode": "all",
        "max-examples": 6,
        "deterministic": True,
        "with-security-parameters": False,
    },
    # The stateful phase needs links between operations, which the schema does not declare.
    "phases": {"stateful": {"enabled": False}},
    "checks": {
        # Schema-valid data that a business rule refuses is a 400 by design: "cursor or page",
        # "expires_at in the future", "exactly one of contact_id and email", an id that must exist.
        # OpenAPI 3.0 cannot say these, so this check would only report the rules themselves.
        "positive_data_acceptance": {"enabled": False},
    },
}


@dataclass
class Caller:
    tenant: Tenant
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Api-Key {self.key}"}


@dataclass
class Seed:
    a: Caller
    b: Caller
    # Path parameter values made by tenant A, by the kind of object the parameter names.
    a_objects: dict[str, str] = field(default_factory=dict)
    # Every uuid of tenant A's rows: none may appear in a response to tenant B.
    a_ids: set[str] = field(default_factory=set)


def _client(caller: Caller) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {caller.key}")
    return client


def _ok(response, status: int = 201) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:500])
    return response.json()


def _seed_tenant_a(api: APIClient, tenant: Tenant) -> dict[str, str]:
    """One of each kind of object, made as a user of the API makes them."""
    post = api.post
    definition = _ok(
        post(reverse("attribute-definition-list"), {"key": "plan", "label": "Plan", "type": "string"}, "json")
    )
    contacts = reverse("contact-list")
    person = {"first_name": "Ann", "last_name": "Lee", "company": "Acme"}
    ann = _ok(post(contacts, {**person, "email": "ann@a.example", "phone": "+33612345678",
                              "attributes": {"plan": "pro"}}, "json"))  # fmt: skip
    twin = _ok(post(contacts, {**person, "email": "ann.lee@a.example"}, "json"))
    merged = _ok(post(contacts, {"email": "bob@a.example", "first_name": "Bob"}, "json"))
    removed = _ok(post(contacts, {"email": "gone@a.example", "first_name": "Gone"}, "json"))
    assert api.delete(reverse("contact-detail", kwargs={"pk": removed["id"]})).status_code == 204
    identifier = _ok(
        post(
            reverse("contact-identifier-list", kwargs={"contact_pk": ann["id"]}),
            {"channel": "whatsapp", "value": "+33612345678"},
            "json",
        )
    )
    tag = _ok(post(reverse("tag-list"), {"name": "VIP"}, "json"))
    _ok(post(reverse("tag-apply", kwargs={"pk": tag["id"]}), {"contact_ids": [ann["id"]]}, "json"), 200)
    static = _ok(post(reverse("list-list"), {"name": "Newsletter"}, "json"))
    _ok(
        post(reverse("list-contacts", kwargs={"pk": static["id"]}), {"contact_ids": [ann["id"]]}, "json"), 200
    )
    city_rule = {"field": "city", "op": "eq", "value": "Lyon"}
    segment = {"name": "Lyon", "kind": "dynamic", "rules": {"operator": "and", "rules": [city_rule]}}
    segment = _ok(post(reverse("list-list"), segment, "json"))
    member = UserFactory()
    MembershipFactory(tenant=tenant, user=member, role=Role.CONTACTS_VIEWER)
    _ok(post(reverse("list-shares", kwargs={"pk": static["id"]}), {"user_id": str(member.pk)}, "json"))
    purpose = _ok(post(reverse("consent-purpose-list"), {"key": "surveys", "label": "Surveys"}, "json"))
    consent = _ok(
        post(
            reverse("contact-consents", kwargs={"contact_pk": ann["id"]}),
            {"channel": "email", "purpose": "surveys", "status": "pending"},
            "json",
        )
    )
    _ok(
        post(
            reverse("contact-activities", kwargs={"contact_pk": ann["id"]}),
            {"type": "form_submitted", "title": "Sent the form"},
            "json",
        )
    )
    csv = SimpleUploadedFile("a.csv", b"email,first_name\ncat@a.example,Cat\n", content_type="text/csv")
    import_job = _ok(post(reverse("import-list"), {"file": csv}, format="multipart"))
    export_job = _ok(post(reverse("export-list"), {}, "json"))
    _ok(post(reverse("duplicate-recompute")), 202)
    duplicates = _ok(api.get(reverse("duplicate-list")), 200)["results"]
    assert duplicates, "the seed's twins are a duplicate pair"
    merge = _ok(post(reverse("contact-merge", kwargs={"pk": twin["id"]}), {"others": [merged["id"]]}, "json"))
    event = _ok(api.get(reverse("event-list")), 200)["results"][0]
    api_key = _ok(post(reverse("api-key-list"), {"name": "spare", "role": Role.CONTACTS_VIEWER}, "json"))
    return {
        "contact": ann["id"],
        "identifier": identifier["id"],
        "tag": tag["id"],
        "list": static["id"],
        "segment": segment["id"],
        "user": str(member.pk),
        "attribute-definition": definition["id"],
        "consent-purpose": purpose["id"],
        "consent-token": consent["confirmation"]["token"],
        "import": import_job["id"],
        "export": export_job["id"],
        "duplicate": duplicates[0]["id"],
        "merge": merge["merge_id"],
        "event": str(event["id"]),
        "api-key": api_key["id"],
    }


def _tenant_uuids(tenant: Tenant) -> set[str]:
    """The value of every uuid column of every row that belongs to `tenant`, and the tenant's own id."""
    found = {str(tenant.pk)}
    for model in apps.get_models():
        if not any(f.name == "tenant" for f in model._meta.fields):
            continue
        columns = [
            f.attname for f in model._meta.fields if isinstance(f, models.UUIDField | models.ForeignKey)
        ]
        columns = [c for c in columns if c != "tenant_id"]
        manager = getattr(model.objects, "unscoped", None)
        rows = (manager() if manager else model.objects.all()).filter(tenant_id=tenant.pk)
        for values in rows.values_list(*columns):
            found.update(str(v) for v in values if isinstance(v, uuid.UUID))
    return found


@pytest.fixture(scope="module")
def seed(django_db_setup, django_db_blocker) -> Seed:
    """Made once for the module inside a transaction rolled back at its end. Each operation's test
    runs in a savepoint inside it (pytest-django's `db`), and each request in a savepoint of its own."""
    with django_db_blocker.unblock(), transaction.atomic():
        a = Caller(TenantFactory(name="Tenant A"), "")
        a.key = services.apikey_create(tenant=a.tenant, name="fuzz-a", role=Role.OWNER).key
        b = Caller(TenantFactory(name="Tenant B"), "")
        b.key = services.apikey_create(tenant=b.tenant, name="fuzz-b", role=Role.OWNER).key
        seeded = Seed(a=a, b=b, a_objects=_seed_tenant_a(_client(a), a.tenant))
        seeded.a_ids = _tenant_uuids(a.tenant)
        yield seeded
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def wsgi_app() -> WSGIHandler:
    """The Django WSGI app, as gunicorn runs it. Django closes the database connection at the end of
    every request (close_old_connections), which would end the test's transaction; Django's own test
    client disconnects that handler for the same reason, and so does this fixture while it lives."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)

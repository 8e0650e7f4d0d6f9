"""Export filters give GET /contacts/'s set; prune; tenant isolation; neutralised names."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from consent.services import consent_record, purpose_keys, purposes_create_defaults
from contacts_service.context import SYSTEM_ACTOR
from imports import exports
from imports.models import ExportJob
from tests.factories import AttributeDefinitionFactory, ContactFactory
from tests.imports.test_export import add_to_list, detail_url, fetch, rows_of, tag

EXPORTS = reverse("export-list")
pytestmark = pytest.mark.django_db


@pytest.fixture
def export(api, django_capture_on_commit_callbacks):
    def make(client=None, **body):
        client = client or api
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(EXPORTS, body, format="json")
        assert response.status_code == 201, response.json()
        return client.get(detail_url(response.json()["id"])).json()

    return make


def listed(api, params: dict) -> set[str]:
    response = api.get("/api/v1/contacts/", {**params, "page_size": 100})
    assert response.status_code == 200, response.content
    return {c["email"] for c in response.json()["results"]}


def exported(api, export, filters) -> set[str]:
    job = export(filters=filters, columns=["email"])
    assert job["status"] == "completed", job
    _header, *rows = rows_of(api, job)
    assert job["row_count"] == len(rows)
    return {r[0] for r in rows}


@pytest.fixture
def crowd(tenant):
    AttributeDefinitionFactory(tenant=tenant, key="plan")
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="vip", type="boolean")
    people = []
    for n in range(12):
        people.append(
            ContactFactory(
                tenant=tenant,
                email=f"p{n}@x.example",
                first_name=["Ann", "Bob", "O'Hara", "100%_x"][n % 4],
                company=["Acme", "Initech"][n % 2],
                phone=f"+3361234{n:04d}",
                attributes={"plan": ["pro", "free"][n % 2], "score": n % 3, "vip": n % 2 == 0},
            )
        )
    ContactFactory(
        tenant=tenant, email="gone@x.example", deleted_at=timezone.now(), attributes={"plan": "pro"}
    )
    tag(tenant, people[:6], "VIP")
    tag(tenant, people[3:9], "Lead")
    lst = add_to_list(tenant, people[::3], "News")
    purposes_create_defaults(tenant=tenant)
    purpose = purpose_keys(tenant=tenant)[0]
    for c in people[:5]:
        consent_record(
            tenant=tenant,
            actor=SYSTEM_ACTOR,
            contact_id=c.pk,
            channel="email",
            purpose=purpose,
            status="granted",
        )
    for c in people[5:7]:
        consent_record(
            tenant=tenant,
            actor=SYSTEM_ACTOR,
            contact_id=c.pk,
            channel="email",
            purpose=purpose,
            status="revoked",
        )
    return {"people": people, "list": lst, "purpose": purpose}


def test_filters_match_the_contacts_list(api, export, crowd):
    p = crowd["purpose"]
    cases = [
        {"tags": "VIP,Lead"},
        {"tags_all": "vip,LEAD"},
        {"tags_all": "VIP,Nope"},
        {"list": str(crowd["list"].pk)},
        {"consent": f"email:{p}:granted"},
        {"consent": f"email:{p}:none"},
        {"consent": f"email:{p}:revoked"},
        {"attribute": "plan:pro"},
        {"attribute": "score:1"},
        {"attribute": "vip:true,plan:pro"},
        {"search": "ann"},
        {"search": "o'hara"},
        {"search": "100%"},
        {"search": "_x"},
        {"search": "acme ann"},
        {"search": "+33612340003"},
        {"search": "x.example"},
    ]
    for filters in cases:
        assert exported(api, export, filters) == listed(api, filters), filters


def test_export_job_and_download_of_another_tenant_is_404(api, client_for, other_tenant, export, crowd):
    job = export(columns=["email"])
    other = client_for(other_tenant)
    assert other.get(detail_url(job["id"])).status_code == 404
    response, body = fetch(other, job["download_url"])
    assert response.status_code == 404, body


def test_pruned_export_shows_no_link_and_download_is_410(api, export, crowd, settings):
    job = export(columns=["email"])
    url = job["download_url"]
    ExportJob.objects.unscoped().filter(pk=job["id"]).update(
        finished_at=timezone.now() - dt.timedelta(days=8)
    )
    assert exports.exports_prune() == 1
    again = api.get(detail_url(job["id"])).json()
    assert again["download_url"] is None and again["expires_at"] is None
    response, body = fetch(api, url)
    assert response.status_code == 410 and b"file_gone" in body


def test_names_and_attributes_neutralised_via_api(api, export, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="plan")
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    c = ContactFactory(
        tenant=tenant, email="a@x.example", phone="+33612345678", attributes={"plan": "@cmd", "score": -3}
    )
    tag(tenant, [c], "=evil", "zed")
    add_to_list(tenant, [c], "-list")
    job = export(
        columns=["email", "phone", "tags", "lists", "attributes.plan", "attributes.score"], delimiter=";"
    )
    _header, row = rows_of_delim(api, job, ";")
    assert row == ["a@x.example", "'+33612345678", "'=evil; zed", "'-list", "'@cmd", "'-3"]


def rows_of_delim(client, job, delimiter):
    response, body = fetch(client, job["download_url"])
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(body.decode(), newline=""), delimiter=delimiter))

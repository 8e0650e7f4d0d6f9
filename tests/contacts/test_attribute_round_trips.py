"""Custom attribute values read back the way they were accepted: a number past 2^53 sent as 1e20 (which
PostgreSQL's jsonb stores as the whole number 100000000000000000000) goes back through PATCH, merge
undo and a CSV export re-imported; text values are trimmed, so the filter and segment rules find the
same contacts; a choice has no comma; a definition a segment names is not deleted under it."""

import io
import json

import pytest
from django.urls import reverse

from imports.exports import export_write
from tests.factories import AttributeDefinitionFactory
from tests.imports.conftest import media, run, upload  # noqa: F401  (media: autouse MEDIA_ROOT)
from tests.merges.conftest import merge_url, undo_url

LIST = reverse("contact-list")
DEFS = reverse("attribute-definition-list")
PREVIEW = "/api/v1/lists/preview/"


def detail(pk):
    return reverse("contact-detail", kwargs={"pk": pk})


@pytest.mark.django_db
def test_a_large_number_read_back_is_accepted_when_sent_back(api, tenant):
    """A client saves score 1e20, GETs the contact (100000000000000000000) and PATCHes its
    attributes back unchanged: 200. 2^53 + 1, which no double holds, is still refused."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    created = api.post(LIST, {"email": "big@example.com", "attributes": {"score": 1e20}}, format="json")
    assert created.status_code == 201, created.json()

    shown = api.get(detail(created.json()["id"])).json()["attributes"]
    patched = api.patch(detail(created.json()["id"]), {"attributes": shown}, format="json")

    assert patched.status_code == 200, (shown, patched.json())
    refused = api.patch(detail(created.json()["id"]), {"attributes": {"score": 2**53 + 1}}, format="json")
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "attributes.score"


@pytest.mark.django_db
def test_undoing_a_merge_of_a_contact_with_a_large_number(api, tenant):
    """Merge b (score 1e20) into a, then undo at once: 200, nothing changed (the snapshot's
    100000000000000000000 is the value the definition admitted)."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    a = api.post(LIST, {"email": "a@example.com"}, format="json").json()
    b = api.post(LIST, {"email": "b@example.com", "attributes": {"score": 1e20}}, format="json").json()
    merged = api.post(merge_url(a["id"]), {"others": [b["id"]], "strategy": "fill_empty"}, format="json")
    assert merged.status_code == 201, merged.json()

    undone = api.post(undo_url(merged.json()["merge_id"]))

    assert undone.status_code == 200, undone.json()


@pytest.mark.django_db
@pytest.mark.parametrize("use_copy", [True, False], ids=["copy", "portable"])
def test_an_exported_large_number_imports_back(api, tenant, use_copy):
    """The CSV export writes score 1e20 as 100000000000000000000 (numbers as stored); importing
    that file back (update by email) fails no row."""
    AttributeDefinitionFactory(tenant=tenant, key="score", type="number")
    created = api.post(LIST, {"email": "big@example.com", "attributes": {"score": 1e20}}, format="json")
    assert created.status_code == 201, created.json()
    out = io.BytesIO()
    export_write(tenant=tenant, filters={}, columns=["email", "attributes.score"], out=out, use_copy=use_copy)
    text = out.getvalue().decode()

    job = upload(api, text).json()
    done = run(
        api,
        job["id"],
        mapping={"email": "email", "attributes.score": "attributes.score"},
        dedupe_key="email",
        on_match="update",
    )

    assert done["failed"] == 0, (text, done)


@pytest.mark.django_db
def test_a_choice_with_a_comma_is_refused(api, tenant):
    """?attribute=size:a,b is either value, so "Small, medium" could not be filtered on: the definition
    refuses it, naming the choice."""
    body = {"key": "size", "label": "Size", "type": "choice", "choices": ["Small, medium", "Large"]}
    r = api.post(DEFS, body, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "choices.0", r.json()


@pytest.mark.django_db
def test_a_text_value_is_trimmed_and_found_alike_by_filter_and_segment(api, tenant):
    """A text attribute " A1 " is stored "A1", as an import stores its cell; a segment rule eq " A1 "
    and ?attribute=code: A1  both find the contact."""
    AttributeDefinitionFactory(tenant=tenant, key="code", type="string")
    c = api.post(LIST, {"email": "a@example.com", "attributes": {"code": " A1 "}}, format="json")
    assert c.status_code == 201, c.json()
    assert c.json()["attributes"] == {"code": "A1"}

    seg = api.post(PREVIEW, {"rules": {"operator": "and", "rules": [
        {"field": "attributes.code", "op": "eq", "value": " A1 "}]}}, format="json")  # fmt: skip
    flt = api.get(LIST, {"attribute": "code: A1 "})

    assert (seg.json()["count"], flt.json()["count"]) == (1, 1)


@pytest.mark.django_db
def test_a_definition_a_segment_names_is_not_deleted(api, tenant):
    """A dynamic list "attributes.score is_empty": deleting the definition (no contact holds a score)
    is a 409 in_use naming the segment, and the segment keeps following contacts."""
    d = api.post(DEFS, {"key": "score", "label": "S", "type": "number"}, format="json").json()
    rules = {"operator": "and", "rules": [{"field": "attributes.score", "op": "is_empty"}]}
    seg = api.post("/api/v1/lists/", {"name": "no score", "kind": "dynamic", "rules": rules}, format="json")
    assert seg.status_code == 201, seg.json()
    api.post(LIST, {"email": "a@example.com"}, format="json")
    members = f"/api/v1/lists/{seg.json()['id']}/contacts/"
    assert api.get(members).json()["count"] == 1

    deleted = api.delete(f"{DEFS}{d['id']}/")
    api.post(LIST, {"email": "b@example.com"}, format="json")

    assert deleted.status_code == 409, deleted.content
    assert deleted.json()["code"] == "in_use"
    assert deleted.json()["segments"] == [{"id": seg.json()["id"], "name": "no score"}]
    assert api.get(members).json()["count"] == 2


@pytest.mark.django_db
def test_contact_created_carries_a_large_number_as_it_reads_back(api, tenant):
    """1e20 is stored as PostgreSQL's jsonb gives it back, 100000000000000000000: contact.created (the
    contact and its changes), GET and the next contact.updated all carry that integer."""
    from django.db import connection

    from events.models import OutboxEvent

    AttributeDefinitionFactory(tenant=tenant, key="n", type="number")
    AttributeDefinitionFactory(tenant=tenant, key="s", type="string")
    created = api.post(LIST, {"email": "n@example.com", "attributes": {"n": 1e20, "s": "x"}}, format="json")
    contact_id = created.json()["id"]
    api.patch(detail(contact_id), {"attributes": {"s": "y"}}, format="json")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT payload::text FROM events_outboxevent WHERE aggregate_id = %s ORDER BY id", [contact_id]
        )
        payloads = [json.loads(text) for (text,) in cursor.fetchall()]
    assert [p["event_type"] for p in payloads] == ["contact.created", "contact.updated"]
    stored = api.get(detail(contact_id)).json()["attributes"]["n"]
    assert stored == 10**20 and type(stored) is int
    for payload in payloads:
        assert payload["data"]["contact"]["attributes"]["n"] == 10**20
        assert type(payload["data"]["contact"]["attributes"]["n"]) is int
    assert payloads[0]["data"]["changes"]["attributes"]["new"]["n"] == 10**20
    assert created.json()["attributes"]["n"] == 10**20
    assert OutboxEvent.objects.unscoped().filter(aggregate_id=contact_id).count() == 2

"""POST /contacts/{id}/merge/ and POST /merges/{id}/undo/, as API callers see them."""

import uuid

import pytest
from django.urls import reverse

from consent.models import ConsentRecord
from contacts.models import Contact, ContactIdentifier
from events.models import OutboxEvent, TimelineEntry
from tests.merges.conftest import (
    MERGES,
    comparable,
    consents_url,
    contact_url,
    create,
    export,
    merge_url,
    undo_url,
)


def merge(api, trio, **body):
    response = api.post(
        merge_url(trio.primary["id"]), {"others": [trio.x["id"], trio.y["id"]], **body}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
def test_merge_then_undo_leaves_every_export_as_it_was(api, trio):
    """Given three contacts of one person with rows in every table; when merged and the merge is
    undone; then each GDPR export equals the one before, except the record of the merge itself."""
    before = {cid: comparable(export(api, cid)) for cid in trio.ids}

    result = merge(api, trio, fields={"city": trio.x["id"]})
    merged = comparable(export(api, trio.primary["id"]))
    assert merged != before[trio.primary["id"]]  # the comparison sees what the merge changed
    assert len(merged["tags"]) == 3 and len(merged["identifiers"]) == 3 and merged["activities"]
    undone = api.post(undo_url(result["merge_id"]))

    assert undone.status_code == 200, undone.json()
    assert undone.json()["status"] == "undone"
    after = {cid: comparable(export(api, cid)) for cid in trio.ids}
    for cid in trio.ids:
        assert after[cid] == before[cid], cid
    for cid in trio.ids:
        assert api.get(contact_url(cid)).status_code == 200
    # the record of the merge stays, in the export of each contact and in the merges list
    assert [m["status"] for m in export(api, trio.x["id"])["merges"]] == ["undone"]
    assert api.get(MERGES).json()["count"] == 1


@pytest.mark.django_db
def test_merged_contacts_disappear_and_the_primary_gains_everything(api, trio):
    """fill_empty (the default): the primary keeps its values, fills empty ones, gains identifiers,
    attributes, tags, the static list, the segment its new city matches, timeline and history."""
    result = merge(api, trio)

    primary_id = trio.primary["id"]
    for other in (trio.x["id"], trio.y["id"]):
        assert api.get(contact_url(other)).status_code == 404
        assert other not in [c["id"] for c in api.get(reverse("contact-list")).json()["results"]]
    contact = api.get(contact_url(primary_id)).json()
    assert (contact["email"], contact["phone"], contact["company"], contact["city"]) == (
        "ann@example.com", "+33612345678", "Acme", "Lyon",
    )  # fmt: skip
    assert contact["external_id"] == "crm-42" and contact["source"] == "api"
    assert contact["attributes"] == {"plan": "free", "nick": "Annie"}
    assert {(i["channel"], i["value"]) for i in contact["identifiers"]} == {
        ("email", "ann.lee@work.example"),  # X's email, kept as an identifier
        ("phone", "+447911123456"),  # Y's phone
        ("whatsapp", "+33612345678"),  # X's identifier, moved
    }
    assert sorted(t["name"] for t in contact["tags"]) == ["Customer", "Lead", "VIP"]
    assert sorted(t["name"] for t in result["tags_added"]) == ["Customer", "Lead"]
    members = api.get(reverse("list-contacts", kwargs={"pk": trio.static_list["id"]})).json()["results"]
    assert [m["id"] for m in members] == [primary_id]
    segment = api.get(reverse("list-contacts", kwargs={"pk": trio.segment["id"]})).json()["results"]
    assert [m["id"] for m in segment] == [primary_id]
    timeline_types = {
        t["event_type"]
        for t in api.get(contact_url(primary_id, "timeline"), {"page_size": 100}).json()["results"]
    }
    assert {"contact.activity_recorded", "contact.merged"} <= timeline_types
    history = api.get(contact_url(primary_id, "history"), {"page_size": 100}).json()["results"]
    assert {"company", "city"} <= {
        h["field"] for h in history if h["source"] == "api"
    }  # X's own edits, moved
    assert result["changes"]["city"] == {"old": "", "new": "Lyon"}
    assert result["sources"]["city"] == trio.x["id"]
    assert "company" in result["conflicts"]
    resolved = api.get(reverse("contact-resolve"), {"channel": "email", "identifier": "ann.lee@work.example"})
    assert resolved.json()["id"] == primary_id


@pytest.mark.django_db
def test_the_primarys_timeline_lists_the_merges_events_in_the_order_they_happened(api, trio):
    """The merge records several events of the primary at one time (contact.merged, tags and consent
    it gained): its timeline, newest first, lists them by descending sequence (entries recorded
    together are ordered by id, so the ids must follow the events' order, also for events whose ids
    the merge chose before recording them)."""
    primary_id = trio.primary["id"]
    before = Contact.objects.unscoped().get(pk=primary_id).event_sequence
    merge(api, trio)

    written = OutboxEvent.objects.unscoped().filter(aggregate_id=primary_id, sequence__gt=before)
    sequence = dict(written.values_list("event_id", "sequence"))
    assert len(sequence) >= 3, sequence  # contact.merged and what the primary gained with it
    timeline = api.get(contact_url(primary_id, "timeline"), {"page_size": 100}).json()["results"]
    listed = [sequence[uuid.UUID(t["event_id"])] for t in timeline if uuid.UUID(t["event_id"]) in sequence]
    assert listed == sorted(sequence.values(), reverse=True)


@pytest.mark.django_db
def test_fields_choose_values_and_the_primary_can_take_a_merged_contacts_email(api, trio):
    """The unique email of a live contact does not block the primary taking it from a merged one."""
    result = merge(
        api, trio, fields={"email": trio.x["id"], "company": trio.x["id"], "attributes.plan": trio.x["id"]}
    )

    contact = api.get(contact_url(trio.primary["id"])).json()
    assert contact["email"] == "ann.lee@work.example"
    assert contact["company"] == "Acme Inc"
    assert contact["attributes"]["plan"] == "pro"
    # the primary's own former email is kept as an identifier
    assert ("email", "ann@example.com") in {(i["channel"], i["value"]) for i in contact["identifiers"]}
    assert result["changes"]["email"] == {"old": "ann@example.com", "new": "ann.lee@work.example"}
    # and undo gives each its own email back
    assert api.post(undo_url(result["merge_id"])).status_code == 200
    assert api.get(contact_url(trio.primary["id"])).json()["email"] == "ann@example.com"
    assert api.get(contact_url(trio.x["id"])).json()["email"] == "ann.lee@work.example"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("strategy", "company", "city", "plan"),
    [
        ("keep_primary", "Acme", "", "free"),
        ("fill_empty", "Acme", "Lyon", "free"),
        ("newest_wins", "Acme Inc", "Lyon", "pro"),
    ],
)
def test_strategies(api, trio, strategy, company, city, plan):
    response = api.post(
        merge_url(trio.primary["id"]),
        {"others": [trio.x["id"]], "strategy": strategy, "dry_run": True},
        format="json",
    )
    assert response.status_code == 200, response.json()
    contact = response.json()["contact"]
    assert (contact["company"], contact["city"], contact["attributes"]["plan"]) == (company, city, plan)


@pytest.mark.django_db
def test_manual_review_needs_every_conflict_settled(api, trio):
    body = {"others": [trio.x["id"]], "strategy": "manual_review"}
    refused = api.post(merge_url(trio.primary["id"]), body, format="json")
    assert refused.status_code == 400
    assert {e["field"] for e in refused.json()["errors"]} == {
        "fields.company",
        "fields.email",
        "fields.attributes.plan",
    }
    assert not Contact.objects.unscoped().filter(deleted_at__isnull=False).exists()

    settled = {"company": trio.x["id"], "email": trio.primary["id"], "attributes.plan": trio.primary["id"]}
    done = api.post(merge_url(trio.primary["id"]), {**body, "fields": settled}, format="json")
    assert done.status_code == 201, done.json()
    assert done.json()["contact"]["company"] == "Acme Inc"


@pytest.mark.django_db
def test_the_tenant_default_strategy_comes_from_its_matching_rules(api, trio):
    assert (
        api.put(reverse("matching-rules"), {"merge_strategy": "keep_primary"}, format="json").status_code
        == 200
    )
    result = api.post(
        merge_url(trio.primary["id"]), {"others": [trio.x["id"]], "dry_run": True}, format="json"
    ).json()
    assert result["strategy"] == "keep_primary" and result["contact"]["city"] == ""


@pytest.mark.django_db
def test_consent_is_never_widened(api, trio):
    """Per channel and purpose the strictest state wins (revoked < pending < granted); derived ledger
    entries name the merge and their source entries; the others' own ledgers stay as they were."""
    primary_id = trio.primary["id"]
    create(api, email="other-person@example.com")  # unrelated consent stays out of it
    x_ledger = list(
        ConsentRecord.objects.unscoped().filter(contact_id=trio.x["id"]).values_list("id", flat=True)
    )

    result = merge(api, trio)

    consents = api.get(consents_url(primary_id)).json()
    current = {(c["channel"], c["purpose"]): c["status"] for c in consents["current"]}
    assert current == {
        ("email", "marketing"): "revoked",  # primary granted, X revoked
        ("sms", "marketing"): "granted",  # only X had it
        ("email", "newsletter"): "pending",  # only Y had it
    }
    derived = [e for e in consents["ledger"] if e["source"] == "merge"]
    assert len(derived) == 3
    for entry in derived:
        assert entry["proof"]["merge_id"] == result["merge_id"]
    by_key = {(e["channel"], e["purpose"]): e for e in derived}
    assert set(by_key[("email", "marketing")]["proof"]["source_records"]) <= {str(i) for i in x_ledger}
    assert {c["new"] for c in result["consent"]} == {"revoked", "granted", "pending"}
    # the merged contacts' own ledgers are untouched
    assert sorted(
        ConsentRecord.objects.unscoped().filter(contact_id=trio.x["id"]).values_list("id", flat=True)
    ) == sorted(x_ledger)
    # segments filtering on consent see the stricter state
    granted = api.get(reverse("contact-list"), {"consent": "email:marketing:granted"}).json()["results"]
    assert primary_id not in [c["id"] for c in granted]


@pytest.mark.django_db
def test_a_granted_consent_never_overrides_a_revocation_on_the_primary(api):
    primary = create(api, email="p@example.com")
    other = create(api, email="o@example.com")
    api.post(
        consents_url(primary["id"]),
        {"channel": "email", "purpose": "marketing", "status": "revoked"},
        format="json",
    )
    api.post(
        consents_url(other["id"]),
        {"channel": "email", "purpose": "marketing", "status": "granted"},
        format="json",
    )

    result = api.post(merge_url(primary["id"]), {"others": [other["id"]]}, format="json").json()

    current = api.get(consents_url(primary["id"])).json()["current"]
    assert [(c["channel"], c["purpose"], c["status"]) for c in current] == [("email", "marketing", "revoked")]
    assert result["consent"] == []  # nothing changed: no consent event
    [entry] = [e for e in api.get(consents_url(primary["id"])).json()["ledger"] if e["source"] == "merge"]
    assert entry["status"] == "revoked" and entry["applied"] is False


@pytest.mark.django_db
def test_undo_deletes_exactly_the_derived_ledger_entries(api, trio):
    result = merge(api, trio)
    ledger_after_merge = ConsentRecord.objects.unscoped().count()

    assert api.post(undo_url(result["merge_id"])).status_code == 200

    assert ConsentRecord.objects.unscoped().count() == ledger_after_merge - 3
    assert not ConsentRecord.objects.unscoped().filter(source="merge").exists()


@pytest.mark.django_db
def test_dry_run_and_preview_write_nothing(api, trio):
    from django.apps import apps

    def counts():
        return {m._meta.label: m._base_manager.count() for m in apps.get_models()} | {
            "live": Contact.objects.unscoped().filter(deleted_at__isnull=True).count(),
            "contacts": list(Contact.objects.unscoped().order_by("pk").values()),
            "identifiers": list(ContactIdentifier.objects.unscoped().order_by("pk").values()),
            "timeline": list(TimelineEntry.objects.unscoped().order_by("pk").values_list("pk", "contact_id")),
        }

    before = counts()
    body = {"others": [trio.x["id"], trio.y["id"]], "fields": {"email": trio.x["id"]}}
    dry = api.post(merge_url(trio.primary["id"]), {**body, "dry_run": True}, format="json")
    preview = api.post(
        reverse("contact-merge-preview", kwargs={"pk": trio.primary["id"]}), body, format="json"
    )

    assert dry.status_code == 200 and preview.status_code == 200
    assert counts() == before
    assert dry.json() == preview.json()
    shown = dry.json()
    assert shown["merge_id"] is None and shown["dry_run"] is True
    assert shown["contact"]["email"] == "ann.lee@work.example"
    assert sorted(t["name"] for t in shown["contact"]["tags"]) == ["Customer", "Lead", "VIP"]
    assert ("email", "ann@example.com") in {
        (i["channel"], i["value"]) for i in shown["contact"]["identifiers"]
    }
    assert [x["name"] for x in shown["lists_added"]] == ["Newsletter"]


@pytest.mark.django_db
def test_restoring_a_merged_contact_is_refused_undo_brings_it_back(api, trio):
    result = merge(api, trio)
    refused = api.post(contact_url(trio.x["id"], "restore"))
    assert refused.status_code == 409
    assert refused.json()["code"] == "merged" and refused.json()["merge_id"] == result["merge_id"]


@pytest.mark.django_db
def test_merges_list_and_detail(api, trio):
    result = merge(api, trio)
    listed = api.get(MERGES, {"contact": trio.y["id"]}).json()
    assert [m["id"] for m in listed["results"]] == [result["merge_id"]]
    assert listed["results"][0]["merged_ids"] == [trio.x["id"], trio.y["id"]]
    detail = api.get(reverse("merge-detail", kwargs={"pk": result["merge_id"]})).json()
    assert detail["undo"] == {"allowed": True, "code": None, "message": None}
    assert {c["contact_id"]: c["role"] for c in detail["contacts"]} == {
        trio.primary["id"]: "primary", trio.x["id"]: "merged", trio.y["id"]: "merged",
    }  # fmt: skip
    snapshot = next(c for c in detail["contacts"] if c["contact_id"] == trio.x["id"])["snapshot"]
    assert snapshot["contact"]["fields"]["email"] == "ann.lee@work.example"
    assert api.get(MERGES, {"status": "undone"}).json()["count"] == 0


@pytest.mark.django_db
def test_erasing_the_primary_erases_the_contacts_merged_into_it(api, trio):
    merge(api, trio)
    assert api.post(contact_url(trio.primary["id"], "erase")).status_code == 200
    assert not Contact.objects.unscoped().filter(pk__in=trio.ids).exists()
    assert api.get(MERGES).json()["count"] == 0


@pytest.mark.django_db
def test_the_ledger_trigger_admits_only_the_undone_merges_own_entries(api, trio):
    """Even with the undo flag set, PostgreSQL refuses to delete any other ledger row, and updates."""
    from django.db import DatabaseError, connection, transaction

    first = merge(api, trio)
    own = ConsentRecord.objects.unscoped().filter(source="merge").values_list("id", flat=True).first()
    other = ConsentRecord.objects.unscoped().exclude(source="merge").values_list("id", flat=True).first()

    def delete(record_id, flag) -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT set_config('contacts_service.undoing_merge', %s, true)", [flag])
            cursor.execute("DELETE FROM consent_consentrecord WHERE id = %s", [record_id])

    for record_id, flag in (
        (other, first["merge_id"]),
        (own, "01a2013f-fe12-708f-a888-85e0e5552cad"),
        (own, ""),
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            delete(record_id, flag)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("SELECT set_config('contacts_service.undoing_merge', %s, true)", [first["merge_id"]])
        cursor.execute("UPDATE consent_consentrecord SET status = 'granted' WHERE id = %s", [own])
    assert ConsentRecord.objects.unscoped().filter(pk__in=[own, other]).count() == 2


@pytest.mark.django_db
def test_operators_see_merges_and_duplicates_read_only_in_the_admin(client, api, trio):
    from tests.factories import UserFactory

    result = merge(api, trio)
    api.post(reverse("duplicate-recompute"))
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for name in ("contacts_merge", "contacts_duplicatecandidate"):
        assert client.get(reverse(f"admin:{name}_changelist")).status_code == 200, name
    page = client.get(reverse("admin:contacts_merge_change", args=[result["merge_id"]]))
    assert page.status_code == 200 and trio.primary["id"] in page.content.decode()
    assert client.get(reverse("admin:contacts_merge_add")).status_code == 403


@pytest.mark.django_db
def test_a_display_name_chosen_from_a_contact_with_a_derived_name_is_kept(api):
    """Given two contacts with derived display names, when the merge chooses the other's display_name,
    then the primary takes it (as a custom name) instead of deriving one from its own names."""
    primary = create(api, email="ann@example.com", first_name="Ann", last_name="Lee")
    other = create(api, email="annie@example.com", first_name="Annie", last_name="Lee-Smith")
    assert other["display_name"] == "Annie Lee-Smith"
    response = api.post(
        merge_url(primary["id"]),
        {"others": [other["id"]], "fields": {"display_name": other["id"]}},
        format="json",
    )
    assert response.status_code == 201, response.json()
    contact = api.get(contact_url(primary["id"])).json()
    assert contact["display_name"] == "Annie Lee-Smith"
    assert contact["first_name"] == "Ann"

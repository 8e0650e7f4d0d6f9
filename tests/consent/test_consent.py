"""Consent ledger, current state, double opt-in and purposes, as API callers see them."""

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, transaction
from django.test import override_settings
from django.urls import reverse

from consent.models import ConsentPurpose, ConsentRecord, ConsentState, LedgerImmutable
from contacts_service.roles import Role
from events.models import OutboxEvent, TimelineEntry
from tests.factories import ContactFactory


def consents_url(contact_id) -> str:
    return reverse("contact-consents", kwargs={"contact_pk": contact_id})


def confirm_url(token: str) -> str:
    return reverse("consent-confirm", kwargs={"token": token})


@pytest.fixture
def contact(tenant):
    return ContactFactory(tenant=tenant, email="ann@example.com")


def record(api, contact, **body):
    data = {"channel": "email", "purpose": "marketing", "status": "granted", **body}
    return api.post(consents_url(contact.pk), data, format="json", HTTP_USER_AGENT="pytest-browser")


def consent_events(contact):
    return list(
        OutboxEvent.objects.unscoped()
        .filter(aggregate_id=contact.pk, event_type="contact.consent_changed")
        .order_by("id")
    )


def test_granting_consent_records_ledger_state_event_and_timeline(api, contact):
    response = record(api, contact, source="signup_form", proof={"form": "footer", "text": "Yes please"})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["changed"] is True
    assert body["confirmation"] is None
    assert body["record"]["status"] == "granted"
    assert body["record"]["ip_address"] == "127.0.0.1"
    assert body["record"]["user_agent"] == "pytest-browser"
    assert body["record"]["actor"]["type"] == "api_key"
    assert body["state"]["status"] == "granted"
    listing = api.get(consents_url(contact.pk)).json()
    assert [(c["channel"], c["purpose"], c["status"]) for c in listing["current"]] == [
        ("email", "marketing", "granted")
    ]
    assert len(listing["ledger"]) == 1
    assert listing["ledger"][0]["proof"] == {"form": "footer", "text": "Yes please"}
    [event] = consent_events(contact)
    assert event.payload["data"] | {"record_id": None} == {
        "contact_id": str(contact.pk),
        "channel": "email",
        "purpose": "marketing",
        "old": None,
        "new": "granted",
        "source": "signup_form",
        "legal_basis": "consent",
        "record_id": None,
        "double_opt_in": False,
    }
    assert event.sequence == contact.event_sequence + 1
    assert (
        TimelineEntry.objects.unscoped()
        .filter(contact_id=contact.pk, event_type="contact.consent_changed")
        .exists()
    )


def test_revoking_then_granting_keeps_every_statement_newest_first(api, contact):
    record(api, contact)
    record(api, contact, status="revoked", source="unsubscribe_link")
    record(api, contact, channel="sms", status="granted")

    listing = api.get(consents_url(contact.pk)).json()
    assert [(r["channel"], r["status"]) for r in listing["ledger"]] == [
        ("sms", "granted"),
        ("email", "revoked"),
        ("email", "granted"),
    ]
    current = {(c["channel"], c["purpose"]): c["status"] for c in listing["current"]}
    assert current == {("email", "marketing"): "revoked", ("sms", "marketing"): "granted"}
    assert [(e.payload["data"]["old"], e.payload["data"]["new"]) for e in consent_events(contact)] == [
        (None, "granted"),
        ("granted", "revoked"),
        (None, "granted"),
    ]


def test_same_status_again_is_kept_in_the_ledger_without_an_event(api, contact):
    record(api, contact)
    response = record(api, contact, source="checkout")
    assert response.status_code == 201
    assert response.json()["changed"] is False
    assert ConsentRecord.objects.unscoped().filter(contact=contact).count() == 2
    assert len(consent_events(contact)) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"channel": "fax"}, "channel"),
        ({"purpose": "astrology"}, "purpose"),
        ({"status": "maybe"}, "status"),
        ({"legal_basis": "because"}, "legal_basis"),
        ({"proof": ["not", "an", "object"]}, "proof"),
        ({"proof": {"text": "nul \u0000 here"}}, "proof.text"),
        ({"proof": {"blob": "x" * 20_000}}, "proof"),
        ({"ip_address": "999.1.1.1"}, "ip_address"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_bad_input_is_a_400_naming_the_field_and_writes_nothing(api, contact, body, field):
    response = record(api, contact, **body)
    assert response.status_code == 400, response.json()
    assert field in [e["field"] for e in response.json()["errors"]]
    assert not ConsentRecord.objects.unscoped().filter(contact=contact).exists()
    assert consent_events(contact) == []


def test_a_long_source_is_kept_when_the_change_moves_the_contact_into_a_segment(api, contact):
    rules = {"rules": [{"field": "consent.email.marketing", "op": "eq", "value": "granted"}]}
    segment = api.post(reverse("list-list"), {"name": "Consenting", "kind": "dynamic", "rules": rules},
                       format="json")  # fmt: skip
    assert segment.status_code == 201, segment.json()
    response = record(api, contact, source="s" * 64)
    assert response.status_code == 201, response.content
    assert response.json()["record"]["source"] == "s" * 64
    joined = TimelineEntry.objects.unscoped().get(contact_id=contact.pk, event_type="contact.added_to_list")
    assert joined.source == "api"


@pytest.mark.parametrize("role", [Role.CONTACTS_VIEWER, Role.MARKETING_MANAGER])
def test_roles_without_consent_manage_can_read_but_not_record(client_for, tenant, contact, role):
    client = client_for(tenant, role)
    assert client.get(consents_url(contact.pk)).status_code == 200
    assert record(client, contact).status_code == 403
    assert not ConsentRecord.objects.unscoped().exists()


def test_another_tenants_contact_is_404_and_untouched(client_for, other_tenant, contact):
    stranger = client_for(other_tenant)
    assert stranger.get(consents_url(contact.pk)).status_code == 404
    assert record(stranger, contact).status_code == 404
    assert stranger.get(consents_url("not-a-uuid")).status_code == 404
    assert not ConsentRecord.objects.unscoped().exists()


def test_soft_deleted_contact_takes_no_consent(api, contact):
    assert api.delete(reverse("contact-detail", kwargs={"pk": contact.pk})).status_code == 204
    assert record(api, contact).status_code == 404


def test_the_ledger_has_no_update_or_delete_endpoint(api, contact):
    record(api, contact)
    assert api.patch(consents_url(contact.pk), {"status": "revoked"}, format="json").status_code == 405
    assert api.put(consents_url(contact.pk), {"status": "revoked"}, format="json").status_code == 405
    assert api.delete(consents_url(contact.pk)).status_code == 405
    assert ConsentRecord.objects.unscoped().get(contact=contact).status == "granted"


# --- double opt-in -------------------------------------------------------------------------


def start_double_opt_in(api, contact, **body):
    response = record(api, contact, status="pending", source="newsletter_form", **body)
    assert response.status_code == 201, response.json()
    return response.json()


def test_pending_returns_a_token_and_link_and_confirming_grants_once(api, anon, contact):
    started = start_double_opt_in(api, contact)
    confirmation = started["confirmation"]
    assert started["state"]["status"] == "pending"
    assert confirmation["url"].endswith(confirm_url(confirmation["token"]))
    assert confirmation["expires_at"]

    response = anon.get(confirm_url(confirmation["token"]), HTTP_USER_AGENT="subject-browser")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "confirmed"
    state = ConsentState.objects.unscoped().get(contact=contact)
    assert state.status == "granted"
    assert state.confirmed_at is not None
    confirm = ConsentRecord.objects.unscoped().get(contact=contact, status="granted")
    assert confirm.source == "double_opt_in"
    assert confirm.user_agent == "subject-browser"
    assert str(confirm.confirms_id) == started["record"]["id"]
    assert [(e.payload["data"]["old"], e.payload["data"]["new"]) for e in consent_events(contact)] == [
        (None, "pending"),
        ("pending", "granted"),
    ]
    assert consent_events(contact)[-1].payload["data"]["double_opt_in"] is True

    reused = anon.get(confirm_url(confirmation["token"]))
    assert reused.status_code == 409
    assert reused.json()["code"] == "token_used"
    assert ConsentRecord.objects.unscoped().filter(contact=contact).count() == 2


def test_configured_confirm_url_carries_the_token(api, contact):
    with override_settings(CONSENT_CONFIRM_URL="https://news.example.com/confirm?t={token}"):
        started = start_double_opt_in(api, contact)
    token = started["confirmation"]["token"]
    assert started["confirmation"]["url"] == f"https://news.example.com/confirm?t={token}"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature changed
        lambda token: "x" + token,  # payload changed
        lambda token: "garbage",
    ],
)
def test_forged_tokens_are_refused_and_change_nothing(api, anon, contact, mangle):
    token = start_double_opt_in(api, contact)["confirmation"]["token"]
    response = anon.get(confirm_url(mangle(token)))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_token"
    assert ConsentState.objects.unscoped().get(contact=contact).status == "pending"
    assert ConsentRecord.objects.unscoped().filter(contact=contact).count() == 1


def test_a_token_signed_with_another_key_is_refused(api, anon, contact):
    with override_settings(SECRET_KEY="another-key-entirely-" * 3):
        token = start_double_opt_in(api, contact)["confirmation"]["token"]
    assert anon.get(confirm_url(token)).status_code == 400
    assert ConsentState.objects.unscoped().get(contact=contact).status == "pending"


def test_expired_token_is_410_and_changes_nothing(api, anon, contact):
    token = start_double_opt_in(api, contact)["confirmation"]["token"]
    with override_settings(CONSENT_CONFIRMATION_MAX_AGE=-1):
        response = anon.get(confirm_url(token))
    assert response.status_code == 410
    assert response.json()["code"] == "token_expired"
    assert ConsentState.objects.unscoped().get(contact=contact).status == "pending"


def test_revoked_after_sign_up_makes_the_old_link_useless(api, anon, contact):
    token = start_double_opt_in(api, contact)["confirmation"]["token"]
    record(api, contact, status="revoked")
    response = anon.get(confirm_url(token))
    assert response.status_code == 409
    assert response.json()["code"] == "token_superseded"
    assert ConsentState.objects.unscoped().get(contact=contact).status == "revoked"


def test_a_new_sign_up_never_downgrades_a_confirmed_consent(api, anon, contact):
    token = start_double_opt_in(api, contact)["confirmation"]["token"]
    assert anon.get(confirm_url(token)).status_code == 200
    events_before = len(consent_events(contact))

    again = start_double_opt_in(api, contact)
    assert again["changed"] is False
    assert again["confirmation"] is None
    assert again["record"]["applied"] is False
    assert again["state"]["status"] == "granted"
    assert ConsentState.objects.unscoped().get(contact=contact).status == "granted"
    assert len(consent_events(contact)) == events_before
    # A directly granted consent is not downgraded either.
    record(api, contact, channel="sms")
    assert start_double_opt_in(api, contact, channel="sms")["state"]["status"] == "granted"


def test_confirm_for_an_erased_or_deleted_contact_is_404(api, anon, contact):
    token = start_double_opt_in(api, contact)["confirmation"]["token"]
    api.delete(reverse("contact-detail", kwargs={"pk": contact.pk}))
    assert anon.get(confirm_url(token)).status_code == 404


# --- immutability ----------------------------------------------------------------------------


def test_the_orm_refuses_to_change_or_delete_ledger_rows(api, contact):
    record(api, contact)
    row = ConsentRecord.objects.unscoped().get(contact=contact)
    row.status = "revoked"
    with pytest.raises(LedgerImmutable):
        row.save()
    with pytest.raises(LedgerImmutable):
        row.delete()
    with pytest.raises(LedgerImmutable):
        ConsentRecord.objects.unscoped().filter(pk=row.pk).update(status="revoked")
    with pytest.raises(LedgerImmutable):
        ConsentRecord.objects.unscoped().filter(pk=row.pk).delete()
    # The base manager (Django's internals, the GDPR erasure) may delete, never update: on SQLite
    # there is no trigger behind it.
    for manager in (ConsentRecord.unscoped_objects, ConsentRecord._base_manager):
        with pytest.raises(LedgerImmutable):
            manager.filter(pk=row.pk).update(status="revoked")
    assert ConsentRecord.objects.unscoped().get(pk=row.pk).status == "granted"


def test_the_database_refuses_update_and_delete_unless_erasing(api, contact):
    record(api, contact)
    row = ConsentRecord.objects.unscoped().get(contact=contact)
    for statement in (
        "UPDATE consent_consentrecord SET status = 'revoked' WHERE id = %s",
        "DELETE FROM consent_consentrecord WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(statement, [row.pk])
    assert ConsentRecord.objects.unscoped().get(pk=row.pk).status == "granted"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('contacts_service.erasing', 'on', true)")
        cursor.execute("DELETE FROM consent_consentstate WHERE record_id = %s", [row.pk])
        cursor.execute("DELETE FROM consent_consentrecord WHERE id = %s", [row.pk])
    assert not ConsentRecord.objects.unscoped().filter(pk=row.pk).exists()


def test_the_admin_shows_the_ledger_but_cannot_change_or_delete_it(api, contact, client):
    record(api, contact)
    row = ConsentRecord.objects.unscoped().get(contact=contact)
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    assert client.get(reverse("admin:consent_consentrecord_changelist")).status_code == 200
    assert client.get(reverse("admin:consent_consentrecord_change", args=[row.pk])).status_code == 200
    assert (
        client.post(reverse("admin:consent_consentrecord_delete", args=[row.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert client.get(reverse("admin:consent_consentrecord_add")).status_code == 403
    assert ConsentRecord.objects.unscoped().filter(pk=row.pk).exists()


# --- purposes --------------------------------------------------------------------------------


def test_every_tenant_starts_with_the_default_purposes(api):
    keys = [p["key"] for p in api.get(reverse("consent-purpose-list")).json()]
    assert keys == ["marketing", "newsletter", "transactional"]


def test_purposes_are_per_tenant_and_in_use_ones_cannot_be_deleted(api, client_for, other_tenant, contact):
    created = api.post(reverse("consent-purpose-list"), {"key": "surveys", "label": "Surveys"}, format="json")
    assert created.status_code == 201
    assert record(api, contact, purpose="surveys").status_code == 201
    other = client_for(other_tenant)
    assert "surveys" not in [p["key"] for p in other.get(reverse("consent-purpose-list")).json()]
    assert record(other, ContactFactory(tenant=other_tenant), purpose="surveys").status_code == 400

    detail = reverse("consent-purpose-detail", kwargs={"pk": created.json()["id"]})
    assert other.get(detail).status_code == 404
    assert other.patch(detail, {"label": "Mine now"}, format="json").status_code == 404
    assert other.delete(detail).status_code == 404
    assert api.get(detail).json()["label"] == "Surveys"
    assert other.get(reverse("contact-list"), {"consent": "email:surveys:granted"}).status_code == 400
    refused = api.delete(detail)
    assert refused.status_code == 409
    assert refused.json()["code"] == "in_use"
    assert api.post(reverse("consent-purpose-list"), {"key": "surveys"}, format="json").status_code == 400
    unused = ConsentPurpose.objects.unscoped().get(tenant=contact.tenant, key="newsletter")
    assert api.delete(reverse("consent-purpose-detail", kwargs={"pk": unused.pk})).status_code == 204


def test_confirmed_at_survives_a_new_grant_and_is_cleared_by_a_revocation(api, anon, contact):
    token = start_double_opt_in(api, contact)["confirmation"]["token"]
    assert anon.get(confirm_url(token)).status_code == 200
    confirmed_at = ConsentState.objects.unscoped().get(contact=contact).confirmed_at
    assert confirmed_at is not None
    record(api, contact, source="checkout")  # granted again: still the double-opt-in-confirmed consent
    assert ConsentState.objects.unscoped().get(contact=contact).confirmed_at == confirmed_at
    record(api, contact, status="revoked")
    assert ConsentState.objects.unscoped().get(contact=contact).confirmed_at is None


@pytest.mark.django_db
def test_a_bad_confirmation_link_is_a_documented_400(anon):
    """Found by the schemathesis run: the confirm operation documented only its 200."""
    response = anon.get(confirm_url("not-a-token"))
    assert response.status_code == 400 and response.json()["code"] == "invalid_token"
    schema = anon.get("/api/schema/", {"format": "json"}).json()
    documented = schema["paths"]["/api/v1/consent/confirm/{token}/"]["get"]["responses"]
    assert {"200", "400", "404", "409", "410"} <= set(documented)
    assert documented["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


@pytest.mark.django_db
def test_a_purpose_with_a_number_for_a_text_is_400_and_unknown_fields_are_documented_as_refused(api, anon):
    """Found by the schemathesis run: {"description": 0} made a purpose described "0"."""
    response = api.post(reverse("consent-purpose-list"), {"key": "surveys", "description": 0}, format="json")
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["description"]
    assert not ConsentPurpose.objects.unscoped().filter(key="surveys").exists()
    schema = anon.get("/api/schema/", {"format": "json"}).json()
    body = schema["paths"]["/api/v1/consent-purposes/"]["post"]["requestBody"]["content"]["application/json"]
    component = body["schema"]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][component]["additionalProperties"] is False

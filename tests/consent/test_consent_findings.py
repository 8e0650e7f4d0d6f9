"""Consent, double opt-in and segment activity rules at their edges (found by a bug hunt): a merge's
bookkeeping entry is no revocation, ten consent conditions fit, an activity type is read whole."""

from django.urls import reverse

from tests.factories import ContactFactory


def consents_url(contact_id) -> str:
    return reverse("contact-consents", kwargs={"contact_pk": contact_id})


def confirm_url(token: str) -> str:
    return reverse("consent-confirm", kwargs={"token": token})


def state(api, contact, status, channel="email", purpose="marketing"):
    response = api.post(
        consents_url(contact.pk), {"channel": channel, "purpose": purpose, "status": status}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


def test_merge_bookkeeping_entry_is_not_a_revocation_after_the_sign_up(api, anon, tenant):
    """docs/api.md, Double opt-in table: "consent revoked after the sign-up -> 409 token_superseded";
    "contact merged into another since -> as above, on the contact it was merged into".

    P revoked email/marketing (T0). Later the same person signs up as O (pending, T1, link mailed).
    O is merged into P (T2): P stays revoked (strictest wins) and the merge appends a derived ledger
    entry `revoked`, source `merge`, `applied: false` (it changed nothing). On P nothing was revoked
    after the sign-up, so the link should confirm (as it does when P itself signs up after revoking:
    see the control below). Actual: 409 token_superseded, because consent_confirm() counts the
    merge's non-applied bookkeeping row (recorded_at T2) as a revocation after the sign-up."""
    # Control: the same story on one contact confirms.
    solo = ContactFactory(tenant=tenant, email="solo@example.com")
    state(api, solo, "revoked")
    solo_token = state(api, solo, "pending")["confirmation"]["token"]
    assert anon.get(confirm_url(solo_token)).status_code == 200

    primary = ContactFactory(tenant=tenant, email="p@example.com")
    other = ContactFactory(tenant=tenant, email="o@example.com")
    state(api, primary, "revoked")
    token = state(api, other, "pending")["confirmation"]["token"]
    merged = api.post(f"/api/v1/contacts/{primary.pk}/merge/", {"others": [str(other.pk)]}, format="json")
    assert merged.status_code == 201, merged.json()
    ledger = api.get(consents_url(primary.pk)).json()["ledger"]
    assert [(e["status"], e["source"], e["applied"]) for e in ledger] == [
        ("revoked", "merge", False),  # the merge's derived entry: changed nothing
        ("revoked", "api", True),  # the revocation, before the sign-up
    ]

    response = anon.get(confirm_url(token))

    assert response.status_code == 200, response.json()
    assert api.get(consents_url(primary.pk)).json()["current"][0]["status"] == "granted"


def test_consent_filter_takes_ten_conditions_whatever_the_purpose_keys(api, tenant):
    """docs/api.md, Consent > Filtering: `?consent=` takes "up to 10 comma-separated conditions,
    which must all hold; more is a 400 on consent". Purpose keys may be up to 64 characters
    (ConsentPurpose.key). Ten conditions on the tenant's own (valid) purposes of 50-odd characters
    are ~640 characters. Actual: 400 `max_length` "Ensure this value has at most 500 characters"
    (contacts/filters.py ContactFilter.consent max_length=500), an undocumented limit that refuses
    a documented query."""
    ann = ContactFactory(tenant=tenant, email="ann@example.com")
    keys = [f"p{i}_" + "x" * 50 for i in range(10)]
    for key in keys:
        assert api.post("/api/v1/consent-purposes/", {"key": key}, format="json").status_code == 201
    query = ",".join(f"email:{key}:none" for key in keys)
    assert len(query) > 500

    response = api.get("/api/v1/contacts/", {"consent": query})

    assert response.status_code == 200, response.json()
    assert [c["id"] for c in response.json()["results"]] == [str(ann.pk)]


def test_segment_activity_rule_with_a_type_ending_in_a_newline_is_invalid(api, tenant):
    """docs/api.md, Dynamic segment rules: the `activity` rule's value is `{"type": "email_opened", ...}`
    and "Every invalid rule is reported at once, with its path" (400 invalid_rule). A type is
    lower-case letters, digits, _ . - (events.activities.ACTIVITY_TYPE); "email_opened\\n" is not one
    (no activity can ever have it: the activities API trims it). Actual: lists/segments.py
    _Compiler.activity checks it with ACTIVITY_TYPE.match, whose `$` also matches before a trailing
    newline, so the rule is accepted and the segment silently matches nobody."""
    ContactFactory(tenant=tenant, email="ann@example.com")
    rules = {
        "operator": "and",
        "rules": [{"field": "activity", "op": "had", "value": {"type": "email_opened\n"}}],
    }

    response = api.post("/api/v1/lists/preview/", {"rules": rules}, format="json")

    assert response.status_code == 400, response.json()
    assert [e["field"] for e in response.json()["errors"]] == ["rules.rules.0.value.type"]

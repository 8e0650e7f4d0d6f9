"""GET /duplicates/, matching rules, dismissal, and contacts checked as they change."""

import pytest
from django.urls import reverse

from contacts import services
from contacts.models import DuplicateCandidate, MatchingRules
from contacts.services import duplicates_check, duplicates_recompute
from contacts_service.context import SYSTEM_ACTOR, tenant_context
from contacts_service.roles import Role
from tests.merges.conftest import DUPLICATES, RULES, contact_url, create


def recompute(api) -> None:
    response = api.post(reverse("duplicate-recompute"))
    assert response.status_code == 202 and response.json() == {"queued": True}


def pairs(api, **params) -> dict[frozenset, dict]:
    response = api.get(DUPLICATES, {"page_size": 100, **params})
    assert response.status_code == 200, response.json()
    return {frozenset(c["id"] for c in item["contacts"]): item for item in response.json()["results"]}


def pair(*contacts) -> frozenset:
    return frozenset(c["id"] for c in contacts)


@pytest.mark.django_db
def test_min_score_and_empty_filters_are_documented_as_they_behave(api, anon):
    """Found by the schemathesis run: min_score was documented as an integer yet takes 99.5 and is bounded
    0-100; an empty filter (?contact=) is skipped, as django-filter does for HTML forms."""
    assert api.get(DUPLICATES, {"min_score": "99.5", "contact": ""}).status_code == 200
    assert api.get(DUPLICATES, {"min_score": "100.5"}).status_code == 400
    huge = api.get(DUPLICATES, {"min_score": "1e400"})  # one error, the documented bound's
    assert [(e["field"], e["code"]) for e in huge.json()["errors"]] == [("min_score", "max_value")]
    assert "100" in huge.json()["errors"][0]["message"]
    schema = anon.get("/api/schema/", {"format": "json"}).json()
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/duplicates/"]["get"]["parameters"]}
    assert parameters["min_score"]["schema"] == {"type": "number", "minimum": 0, "maximum": 100}
    assert parameters["contact"]["allowEmptyValue"] is True
    assert "allowEmptyValue" not in parameters["page"]


@pytest.mark.django_db
def test_candidates_for_each_reason_with_scores(api):
    """Same email (also through an identifier), same phone, same external_id ignoring case, similar
    name at the same company: each a candidate with its reasons and a score; strangers are not."""
    ann = create(api, email="ann@example.com", first_name="Ann", last_name="Lee")
    ann2 = create(api, external_id="X-1", first_name="Ann", last_name="Lee")
    url = reverse("contact-identifier-list", kwargs={"contact_pk": ann2["id"]})
    assert api.post(url, {"channel": "email", "value": "ANN@example.com"}, format="json").status_code == 201
    bob = create(api, phone="+33 6 12 34 56 78", first_name="Bob", last_name="Ray")
    bob2 = create(api, email="bob@else.example", phone="0612345678", country="FR", first_name="Robert")
    ext = create(api, external_id="x-1", first_name="Zed")
    jon = create(
        api, email="jon.smith@acme.example", first_name="Jonathan", last_name="Smith", company="Acme"
    )
    jon2 = create(
        api, email="j.smith@acme.example", first_name="Jonathon", last_name="Smith", company=" acme "
    )
    jon3 = create(
        api, email="jonathan@other.example", first_name="Jonathan", last_name="Smith", company="Other"
    )
    create(api, email="nobody@example.com", first_name="Nobody")

    recompute(api)
    found = pairs(api)

    assert found[pair(ann, ann2)]["reasons"] == ["email", "name"]
    assert found[pair(bob, bob2)]["reasons"] == ["phone"]
    assert found[pair(ann2, ext)]["reasons"] == ["external_id"]
    assert found[pair(jon, jon2)]["reasons"] == ["name", "company"]
    assert pair(jon, jon3) not in found  # same name, another company: not a rule
    assert set(found) == {pair(ann, ann2), pair(bob, bob2), pair(ann2, ext), pair(jon, jon2)}
    scores = {key: item["score"] for key, item in found.items()}
    assert scores[pair(ann2, ext)] == 95 and scores[pair(bob, bob2)] == 80
    assert scores[pair(ann, ann2)] > 95  # email + an identical name
    assert 50 < scores[pair(jon, jon2)] < 80
    assert found[pair(jon, jon2)]["name_similarity"] >= 0.6
    # most likely first, every contact summarised
    listed = api.get(DUPLICATES).json()["results"]
    assert [item["score"] for item in listed] == sorted((item["score"] for item in listed), reverse=True)
    assert set(listed[0]["contacts"][0]) == {
        "id",
        "display_name",
        "email",
        "phone",
        "company",
        "external_id",
        "updated_at",
    }


@pytest.mark.django_db
def test_filters_by_reason_min_score_and_contact_and_bad_filters_are_400(api):
    ann = create(api, email="ann@example.com")
    ann2 = create(api, external_id="a", email=None, phone="+33612345678")
    url = reverse("contact-identifier-list", kwargs={"contact_pk": ann2["id"]})
    api.post(url, {"channel": "email", "value": "ann@example.com"}, format="json")
    bob = create(api, phone="+33612345678", email="bob@example.com")
    recompute(api)

    assert set(pairs(api, reason="phone")) == {pair(ann2, bob)}
    assert set(pairs(api, reason="email")) == {pair(ann, ann2)}
    assert set(pairs(api, min_score=85)) == {pair(ann, ann2)}
    assert set(pairs(api, contact=bob["id"])) == {pair(ann2, bob)}
    for params, field in (
        ({"reason": "shoe_size"}, "reason"),
        ({"min_score": "lots"}, "min_score"),
        ({"min_score": 101}, "min_score"),
        ({"contact": "not-a-uuid"}, "contact"),
        ({"status": "maybe"}, "status"),
    ):
        response = api.get(DUPLICATES, params)
        assert response.status_code == 400, params
        assert field in [e["field"] for e in response.json()["errors"]]


@pytest.mark.django_db
def test_a_dismissed_pair_stays_dismissed(api):
    """Given a pair; when dismissed; then it leaves the list and recomputing does not bring it back
    (even when the contacts change); ?status=dismissed shows it; reopen puts it back."""
    ann = create(api, email="ann@example.com", first_name="Ann")
    ann2 = create(api, phone="+33612345678", first_name="Ann")
    url = reverse("contact-identifier-list", kwargs={"contact_pk": ann2["id"]})
    api.post(url, {"channel": "email", "value": "ann@example.com"}, format="json")
    recompute(api)
    [item] = pairs(api).values()

    dismissed = api.post(reverse("duplicate-dismiss", kwargs={"pk": item["id"]}))
    assert dismissed.status_code == 200 and dismissed.json()["dismissed_at"]
    assert dismissed.json()["dismissed_by"]["type"] == "api_key"
    api.patch(contact_url(ann["id"]), {"phone": "+33612345678"}, format="json")
    recompute(api)

    assert pairs(api) == {}
    assert list(pairs(api, status="dismissed")) == [pair(ann, ann2)]
    assert pairs(api, status="dismissed")[pair(ann, ann2)]["reasons"] == ["email", "name"]  # kept as it was
    assert (
        api.post(reverse("duplicate-dismiss", kwargs={"pk": item["id"]})).json()["code"]
        == "already_dismissed"
    )
    reopened = api.post(reverse("duplicate-reopen", kwargs={"pk": item["id"]}))
    assert reopened.status_code == 200 and reopened.json()["dismissed_at"] is None
    recompute(api)
    assert pairs(api)[pair(ann, ann2)]["reasons"] == ["email", "phone", "name"]


@pytest.mark.django_db
def test_new_and_changed_contacts_are_checked_as_they_change(api, django_capture_on_commit_callbacks):
    ann = create(api, email="ann@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        ann2 = create(api, email="other@example.com", phone="+33612345678")
    assert pairs(api) == {}
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(contact_url(ann["id"]), {"phone": "06 12 34 56 78", "country": "FR"}, format="json")
    assert set(pairs(api)) == {pair(ann, ann2)}
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(contact_url(ann["id"]), {"phone": None}, format="json")
    assert pairs(api) == {}  # no longer matching: dropped
    with django_capture_on_commit_callbacks(execute=True):
        url = reverse("contact-identifier-list", kwargs={"contact_pk": ann["id"]})
        api.post(url, {"channel": "sms", "value": "+33612345678"}, format="json")
    assert set(pairs(api)) == {pair(ann, ann2)}
    with django_capture_on_commit_callbacks(execute=True):
        api.delete(contact_url(ann2["id"]))
    assert pairs(api) == {}  # a deleted contact is no candidate


@pytest.mark.django_db
def test_duplicates_check_is_there_for_batch_callers(tenant, api, django_capture_on_commit_callbacks):
    """duplicates_check(tenant_id, contact_ids) queues one check of those contacts after commit:
    another matching pair is left alone until one of its contacts is checked."""
    first = create(api, email="a@example.com", external_id="K-1")
    second = create(api, external_id="k-1", email="b@example.com")
    third = create(api, external_id="K-2", email="c@example.com")
    fourth = create(api, external_id="k-2", email="d@example.com")
    with django_capture_on_commit_callbacks(execute=True) as callbacks, tenant_context(tenant):
        duplicates_check(tenant.pk, [second["id"], second["id"]])
    assert len(callbacks) == 1
    assert set(pairs(api)) == {pair(first, second)}  # not (third, fourth): neither was checked
    with tenant_context(tenant):
        assert duplicates_recompute(tenant=tenant, contact_ids=[]) == 0
    assert set(pairs(api)) == {pair(first, second)}
    with django_capture_on_commit_callbacks(execute=True), tenant_context(tenant):
        duplicates_check(tenant.pk, [fourth["id"]])
    assert set(pairs(api)) == {pair(first, second), pair(third, fourth)}


@pytest.mark.django_db
def test_default_matching_rules_have_no_updated_at_and_the_schema_says_it_can_be_null(api, anon):
    """Found by the schemathesis run: the documented updated_at was a non-null date-time."""
    assert api.get(RULES).json()["updated_at"] is None
    schema = anon.get("/api/schema/", {"format": "json"}).json()
    assert schema["components"]["schemas"]["MatchingRules"]["properties"]["updated_at"]["nullable"] is True


@pytest.mark.django_db
def test_matching_rules_get_put_and_gmail_folding_is_opt_in(api):
    default = api.get(RULES).json()
    assert default["rules"] == [["email"], ["phone"], ["external_id"], ["name", "company"]]
    assert default["email_gmail_folding"] is False and default["merge_strategy"] == "fill_empty"
    ann = create(api, email="ann.lee+news@gmail.com")
    ann2 = create(api, email="annlee@googlemail.com")
    recompute(api)
    assert pairs(api) == {}

    updated = api.put(RULES, {"rules": [["email"]], "email_gmail_folding": True}, format="json")
    assert updated.status_code == 200, updated.json()
    assert updated.json()["rules"] == [["email"]] and updated.json()["updated_by"]["type"] == "api_key"
    recompute(api)
    assert set(pairs(api)) == {pair(ann, ann2)}
    assert api.get(RULES).json()["email_gmail_folding"] is True

    # a rule needs an identity key or name + company; every problem names its field
    for body, field in (
        ({"rules": [["name"]]}, "rules.0"),
        ({"rules": [["company"]]}, "rules.0"),
        ({"rules": [["email"], ["shoe_size"]]}, "rules.1.0"),
        ({"rules": [["email", "email"]]}, "rules.0"),
        ({"rules": [[]]}, "rules.0"),
        ({"rules": "email"}, "rules"),
        ({"name_similarity": 0.1}, "name_similarity"),
        ({"merge_strategy": "coin_flip"}, "merge_strategy"),
        ({"colour": "red"}, "colour"),
        ({"email_gmail_folding": 0}, "email_gmail_folding"),  # found by schemathesis: DRF took 0 as False
        ({"name_similarity": "0.5"}, "name_similarity"),
    ):
        response = api.put(RULES, body, format="json")
        assert response.status_code == 400, body
        assert field in [e["field"] for e in response.json()["errors"]], (body, response.json())
    assert api.get(RULES).json()["rules"] == [["email"]]


@pytest.mark.django_db
def test_rules_with_combinations(api):
    """A rule of two keys needs both: email + phone."""
    ann = create(api, email="ann@example.com", phone="+33612345678")
    ann2 = create(api, email="x@example.com", phone="+33612345678")
    url = reverse("contact-identifier-list", kwargs={"contact_pk": ann2["id"]})
    api.post(url, {"channel": "email", "value": "ann@example.com"}, format="json")
    bob = create(api, email="bob@example.com", phone="+447911123456")
    bob2 = create(api, email="bob2@example.com", phone="+447911123456")
    api.put(RULES, {"rules": [["email", "phone"]]}, format="json")
    recompute(api)
    assert set(pairs(api)) == {pair(ann, ann2)}
    assert pair(bob, bob2) not in pairs(api)


@pytest.mark.django_db
def test_permissions_and_tenancy(client_for, tenant, other_tenant, api):
    create(api, email="ann@example.com", first_name="Ann")
    ann2 = create(api, phone="+33612345678", first_name="Ann")
    api.post(
        reverse("contact-identifier-list", kwargs={"contact_pk": ann2["id"]}),
        {"channel": "email", "value": "ann@example.com"},
        format="json",
    )
    recompute(api)
    [item] = pairs(api).values()
    viewer = client_for(tenant, Role.CONTACTS_VIEWER)
    assert viewer.get(DUPLICATES).json()["count"] == 1
    assert viewer.get(RULES).status_code == 200
    for response in (
        viewer.post(reverse("duplicate-dismiss", kwargs={"pk": item["id"]})),
        viewer.post(reverse("duplicate-recompute")),
        viewer.put(RULES, {"rules": [["email"]]}, format="json"),
        client_for(tenant, Role.MARKETING_MANAGER).post(
            reverse("duplicate-dismiss", kwargs={"pk": item["id"]})
        ),
    ):
        assert response.status_code == 403
    assert not DuplicateCandidate.objects.unscoped().filter(dismissed_at__isnull=False).exists()
    manager = client_for(tenant, Role.CONTACTS_MANAGER)
    assert manager.post(reverse("duplicate-dismiss", kwargs={"pk": item["id"]})).status_code == 200

    stranger = client_for(other_tenant, Role.OWNER)
    assert stranger.get(DUPLICATES, {"status": "all"}).json()["count"] == 0
    assert stranger.post(reverse("duplicate-reopen", kwargs={"pk": item["id"]})).status_code == 404
    assert stranger.post(reverse("duplicate-dismiss", kwargs={"pk": "nope"})).status_code == 404
    assert DuplicateCandidate.objects.unscoped().get(pk=item["id"]).dismissed_at is not None


@pytest.mark.django_db
def test_a_stored_rule_key_outside_the_enum_never_reaches_the_sql(api, tenant):
    """Given rules written to the table without validation (admin, a bad migration) holding SQL,
    when candidates are recomputed, then it is refused before any statement runs and nothing is found."""
    first = create(api, email="a@example.com", first_name="Ann")
    create(api, email="b@example.com", first_name="Bob")
    MatchingRules.objects.unscoped().update_or_create(
        tenant=tenant, defaults={"rules": [["email"], ["email) OR (true"]]}
    )
    with tenant_context(tenant), pytest.raises(ValueError, match="matching rule key"):
        duplicates_recompute(tenant=tenant, contact_ids=[first["id"]])
    assert not DuplicateCandidate.objects.unscoped().exists()


@pytest.mark.django_db
def test_a_phone_shared_by_more_than_max_group_contacts_makes_no_pairs(api, tenant, settings):
    """Given 60 contacts sharing a switchboard phone (DUPLICATES_MAX_GROUP 50), when recomputed, then that
    phone pairs no one (it is no evidence: 1,770 pairs otherwise) while a phone two share still does."""
    settings.DUPLICATES_MAX_GROUP = 50
    switchboard = [
        services.contact_create(
            tenant=tenant,
            actor=SYSTEM_ACTOR,
            data={"email": f"staff{n}@corp.example", "phone": "+33140000000"},
        )
        for n in range(60)
    ]
    same = create(api, email="ann@example.com", phone="+33612345678")
    other = create(api, email="ann@work.example", phone="+33612345678")

    with tenant_context(tenant):
        duplicates_recompute(tenant=tenant)
        assert duplicates_recompute(tenant=tenant, contact_ids=[switchboard[0].pk]) == 0

    assert set(pairs(api)) == {pair(same, other)}


@pytest.mark.django_db
def test_name_candidates_are_capped_per_contact(api, tenant, settings):
    """Given four contacts with the same name at the same company (6 pairs), when recomputed with at most
    one name candidate per contact, then at most 4 pairs are found."""
    settings.DUPLICATES_MAX_GROUP = 1
    for n in range(4):
        create(api, email=f"jo{n}@acme.example", first_name="Jonathan", last_name="Smith", company="Acme")
    with tenant_context(tenant):
        duplicates_recompute(tenant=tenant)
    found = pairs(api)
    assert 1 <= len(found) <= 4
    assert all(item["reasons"] == ["name", "company"] for item in found.values())


@pytest.mark.django_db
def test_names_exactly_at_the_threshold_are_paired_and_show_the_similarity_as_computed(api):
    """Found by a bug hunt: "Ann Lee" / "Anne Lee" are 0.7 similar (7 shared trigrams of 10) and the
    threshold 0.7 ("at least") did not pair them on PostgreSQL, whose similarity() is a 4-byte
    float (0.69999999) compared with the 8-byte 0.7; the Python pass paired them."""
    response = api.put(RULES, {"rules": [["name", "company"]], "name_similarity": 0.7}, format="json")
    assert response.status_code == 200, response.json()
    ann = create(api, email="a1@example.com", first_name="Ann", last_name="Lee", company="Acme")
    anne = create(api, email="a2@example.com", first_name="Anne", last_name="Lee", company="Acme")
    create(
        api, email="a3@example.com", first_name="Anna", last_name="Leigh", company="Acme"
    )  # below the threshold: no pair

    recompute(api)

    found = pairs(api)
    assert list(found) == [pair(ann, anne)]
    assert found[pair(ann, anne)]["name_similarity"] == 0.7

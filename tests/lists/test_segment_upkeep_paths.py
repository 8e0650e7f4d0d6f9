"""Every path that changes a contact keeps its stored segment membership current (docs/api.md,
Dynamic segments), with its events."""

import pytest
from django.urls import reverse

from lists.models import ListMembership
from tests.factories import ContactFactory
from tests.imports.conftest import media, run, upload  # noqa: F401
from tests.lists.segment_helpers import is_member, list_events, member_count, rule, segment, static


def tag(api, contact, *names):
    r = api.post(reverse("contact-add-tags", kwargs={"pk": contact.pk}), {"tags": list(names)}, format="json")
    assert r.status_code == 200, r.json()


@pytest.mark.django_db
def test_soft_delete_hidden_from_count_and_restore_refreshes(api, tenant):
    ada = ContactFactory(tenant=tenant, email="ada@x.com", country="FR")
    seg = segment(api, "FR", rule("country", "eq", "FR"))
    assert member_count(api, seg["id"]) == 1
    assert api.delete(reverse("contact-detail", kwargs={"pk": ada.pk})).status_code == 204
    assert member_count(api, seg["id"]) == 0
    # rules change while deleted; restored contact must follow the current rules
    api.patch(
        reverse("list-detail", kwargs={"pk": seg["id"]}),
        {"rules": {"operator": "and", "rules": [rule("country", "eq", "DE")]}},
        format="json",
    )
    assert api.post(reverse("contact-restore", kwargs={"pk": ada.pk})).status_code == 200
    assert not is_member(ada.pk, seg["id"])
    assert member_count(api, seg["id"]) == 0


@pytest.mark.django_db
def test_merge_primary_enters_segment_by_gained_tag_and_undo_leaves(api, tenant):
    pri = ContactFactory(tenant=tenant, email="p@x.com")
    oth = ContactFactory(tenant=tenant, email="o@x.com")
    tag(api, oth, "VIP")
    seg = segment(api, "VIPs", rule("tags", "any", ["VIP"]))
    assert is_member(oth.pk, seg["id"]) and not is_member(pri.pk, seg["id"])
    merged = api.post(
        reverse("contact-merge", kwargs={"pk": pri.pk}), {"others": [str(oth.pk)]}, format="json"
    )
    assert merged.status_code == 201, merged.json()
    assert is_member(pri.pk, seg["id"]) and not is_member(oth.pk, seg["id"])
    assert member_count(api, seg["id"]) == 1
    assert list_events(pri.pk, seg["id"], "contact.added_to_list") == 1
    undo = api.post(reverse("merge-undo", kwargs={"pk": merged.json()["merge_id"]}))
    assert undo.status_code == 200, undo.json()
    assert not is_member(pri.pk, seg["id"]) and is_member(oth.pk, seg["id"])
    assert member_count(api, seg["id"]) == 1


@pytest.mark.django_db
def test_bulk_add_to_static_list_moves_lists_rule_segment(api, tenant, django_capture_on_commit_callbacks):
    ada = ContactFactory(tenant=tenant, email="ada@x.com")
    news = static(api, "News")
    seg = segment(api, "In news", rule("lists", "in", [news["id"]]))
    with django_capture_on_commit_callbacks(execute=True):
        r = api.post(
            reverse("list-contacts", kwargs={"pk": news["id"]}), {"contact_ids": [str(ada.pk)]}, format="json"
        )
    assert r.json() == {"changed": 1}
    assert is_member(ada.pk, seg["id"])
    with django_capture_on_commit_callbacks(execute=True):
        api.post(
            reverse("list-remove-contacts", kwargs={"pk": news["id"]}),
            {"contact_ids": [str(ada.pk)]},
            format="json",
        )
    assert not is_member(ada.pk, seg["id"])


@pytest.mark.django_db
def test_import_list_and_consent_columns_refresh_segments(api, tenant):
    news = static(api, "News")
    in_news = segment(api, "In news", rule("lists", "in", [news["id"]]))
    consenting = segment(api, "Consenting", rule("consent.email.marketing", "eq", "granted"))
    segment(api, "VIP", rule("tags", "any", ["VIP"])) if False else None
    existing = ContactFactory(tenant=tenant, email="old@x.com")
    job = upload(api, "email,opt_in\nold@x.com,yes\nnew@x.com,no\n").json()
    result = run(
        api, job["id"], list_id=news["id"], mapping={"email": "email", "opt_in": "consent.email.marketing"}
    )
    assert result["status"] == "completed", result
    new = (
        ListMembership.objects.unscoped()
        .filter(contact_list_id=news["id"])
        .values_list("contact_id", flat=True)
    )
    assert len(new) == 2
    for cid in new:
        assert is_member(cid, in_news["id"])
    assert is_member(existing.pk, consenting["id"])
    assert member_count(api, consenting["id"]) == 1


@pytest.mark.django_db
def test_activity_batch_enters_last_activity_segment(api, tenant):
    ada = ContactFactory(tenant=tenant, email="ada@x.com")
    seg = segment(api, "Active", rule("last_activity_at", "in_last_days", 7))
    opened = segment(api, "Opened", rule("activity", "had", {"type": "email_opened"}))
    r = api.post(
        reverse("activity-batch"),
        {"activities": [{"email": "ADA@x.com", "type": "email_opened"}]},
        format="json",
    )
    assert r.status_code in (200, 201), r.json()
    assert is_member(ada.pk, seg["id"]) and is_member(ada.pk, opened["id"])


@pytest.mark.django_db
def test_double_opt_in_confirm_enters_consent_segment(api, tenant, anon):
    ada = ContactFactory(tenant=tenant, email="ada@x.com")
    seg = segment(api, "Granted", rule("consent.email.marketing", "eq", "granted"))
    pend = segment(api, "Pending", rule("consent.email.marketing", "eq", "pending"))
    started = api.post(
        reverse("contact-consents", kwargs={"contact_pk": ada.pk}),
        {"channel": "email", "purpose": "marketing", "status": "pending"},
        format="json",
    )
    assert started.status_code == 201, started.json()
    assert is_member(ada.pk, pend["id"]) and not is_member(ada.pk, seg["id"])
    token = started.json()["confirmation"]["token"]
    assert anon.get(reverse("consent-confirm", kwargs={"token": token})).status_code == 200
    assert is_member(ada.pk, seg["id"]) and not is_member(ada.pk, pend["id"])


@pytest.mark.django_db
def test_over_inline_limit_refresh_runs_after_commit(
    api, tenant, settings, django_capture_on_commit_callbacks
):
    settings.SEGMENTS_INLINE_LIMIT = 0
    ada = ContactFactory(tenant=tenant, email="ada@x.com", country="FR")
    seg = segment(api, "DE", rule("country", "eq", "DE"))
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(reverse("contact-detail", kwargs={"pk": ada.pk}), {"country": "DE"}, format="json")
    assert is_member(ada.pk, seg["id"])
    with django_capture_on_commit_callbacks(execute=True):
        tag(api, ada, "VIP")
    with django_capture_on_commit_callbacks(execute=True):
        api.patch(reverse("contact-detail", kwargs={"pk": ada.pk}), {"country": "FR"}, format="json")
    assert not is_member(ada.pk, seg["id"])
    assert list_events(ada.pk, seg["id"], "contact.removed_from_list") == 1


@pytest.mark.django_db
def test_archived_segment_catches_up_on_reactivation(api, tenant):
    ada = ContactFactory(tenant=tenant, email="ada@x.com", country="FR")
    seg = segment(api, "DE", rule("country", "eq", "DE"))
    api.patch(reverse("list-detail", kwargs={"pk": seg["id"]}), {"status": "archived"}, format="json")
    api.patch(reverse("contact-detail", kwargs={"pk": ada.pk}), {"country": "DE"}, format="json")
    assert not is_member(ada.pk, seg["id"])
    api.patch(reverse("list-detail", kwargs={"pk": seg["id"]}), {"status": "active"}, format="json")
    assert is_member(ada.pk, seg["id"])


@pytest.mark.django_db
def test_segment_on_deleted_tag_waits_for_a_tag_of_that_name(api, tenant, django_capture_on_commit_callbacks):
    ada = ContactFactory(tenant=tenant, email="ada@x.com")
    bob = ContactFactory(tenant=tenant, email="bob@x.com")
    tag(api, ada, "VIP")
    seg = segment(api, "VIPs", rule("tags", "any", ["VIP"]))
    assert is_member(ada.pk, seg["id"])
    vip_id = api.get(reverse("tag-list")).json()["results"][0]["id"]
    with django_capture_on_commit_callbacks(execute=True):
        assert api.delete(reverse("tag-detail", kwargs={"pk": vip_id})).status_code == 204
    assert is_member(ada.pk, seg["id"])  # documented: keeps its members, stops changing
    # Rules name tags: a tag called VIP again is the one the segment follows (docs/api.md).
    tag(api, bob, "VIP")
    assert is_member(bob.pk, seg["id"])


@pytest.mark.django_db
def test_merge_primary_leaves_consent_segment_and_erase_drops_member(api, tenant):
    pri = ContactFactory(tenant=tenant, email="p@x.com")
    oth = ContactFactory(tenant=tenant, email="o@x.com")
    url = lambda c: reverse("contact-consents", kwargs={"contact_pk": c.pk})  # noqa: E731
    api.post(url(pri), {"channel": "email", "purpose": "marketing", "status": "granted"}, format="json")
    api.post(url(oth), {"channel": "email", "purpose": "marketing", "status": "revoked"}, format="json")
    seg = segment(api, "Granted", rule("consent.email.marketing", "eq", "granted"))
    assert is_member(pri.pk, seg["id"])
    merged = api.post(
        reverse("contact-merge", kwargs={"pk": pri.pk}), {"others": [str(oth.pk)]}, format="json"
    )
    assert merged.status_code == 201, merged.json()
    assert not is_member(pri.pk, seg["id"])
    assert list_events(pri.pk, seg["id"], "contact.removed_from_list") == 1
    other = ContactFactory(tenant=tenant, email="z@x.com")
    api.post(url(other), {"channel": "email", "purpose": "marketing", "status": "granted"}, format="json")
    assert member_count(api, seg["id"]) == 1
    assert api.post(reverse("contact-gdpr-erase", kwargs={"pk": other.pk})).status_code in (200, 204)
    assert member_count(api, seg["id"]) == 0

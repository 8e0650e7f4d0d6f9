"""The in_use guard and frozen-tag upkeep at their edges: list ids in any uuid form, archived
segments left alone, tag names as the database compares them, admin bulk deletes."""

import uuid

import pytest
from django.urls import reverse

from lists.models import ContactList
from tags.models import Tag
from tests.factories import ContactFactory
from tests.lists.segment_helpers import is_member, list_events, rule, segment, static, tag


@pytest.mark.django_db
@pytest.mark.parametrize("spelling", ["hex", "braces", "urn"])
def test_in_use_guard_sees_a_list_id_written_in_another_uuid_format(owner, tenant, spelling):
    """The rules compiler reads list ids with uuid.UUID(), which takes 32 hex digits, {braces} and
    urn:uuid:; segments_naming compares the stored text lower-cased with str(uuid) only."""
    news = static(owner, "News")
    u = uuid.UUID(news["id"])
    written = {"hex": u.hex.upper(), "braces": f"{{{u}}}", "urn": u.urn}[spelling]
    seg = segment(owner, "Follows news", rule("lists", "in", [written]))  # accepted as valid rules
    deleted = owner.delete(reverse("list-detail", kwargs={"pk": news["id"]}))
    assert deleted.status_code == 409, (deleted.status_code, deleted.content)
    # (when deleted: the segment's rules name an id that never comes back; every rebuild now fails)
    assert ContactList.objects.unscoped().filter(pk=seg["id"]).exists()


@pytest.mark.django_db
def test_a_tag_created_again_does_not_rebuild_an_archived_segment(
    owner, tenant, django_capture_on_commit_callbacks
):
    """Archived segments are not maintained (rebuilt when re-activated, _dynamic_lists is active only);
    segments_follow_tag_names rebuilds every dynamic list, archived ones included."""
    ada = ContactFactory(tenant=tenant, email="ada@x.com")
    carl = ContactFactory(tenant=tenant, email="carl@x.com")
    tag(owner, ada, "VIP")
    vips = segment(owner, "VIPs", rule("tags", "any", ["VIP"]))
    assert is_member(ada.pk, vips["id"])
    r = owner.patch(reverse("list-detail", kwargs={"pk": vips["id"]}), {"status": "archived"}, format="json")
    assert r.status_code == 200, r.content
    vip = Tag.objects.for_tenant(tenant).get(name="VIP")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.delete(reverse("tag-detail", kwargs={"pk": vip.pk})).status_code == 204
    assert is_member(ada.pk, vips["id"])
    with django_capture_on_commit_callbacks(execute=True):
        tag(owner, carl, "VIP")  # a new tag of that name
    # The archived segment stays as it was archived: ada in, carl out, no events.
    assert is_member(ada.pk, vips["id"]) and not is_member(carl.pk, vips["id"])
    assert list_events(ada.pk, vips["id"], "contact.removed_from_list") == 0


@pytest.mark.django_db
def test_a_frozen_segment_follows_a_tag_whose_name_the_database_takes_for_the_same(
    owner, tenant, django_capture_on_commit_callbacks
):
    """Tag names clash on PostgreSQL's lower(); segments_follow_tag_names compares Python's
    str.lower (name_key), which differs on a final sigma: a frozen segment naming "ΟΔΟΣ" compiles
    again once a tag "οδοσ" exists, but is not rebuilt."""
    ada = ContactFactory(tenant=tenant, email="ada@x.com")
    ContactFactory(tenant=tenant, email="carl@x.com")
    tag(owner, ada, "ΟΔΟΣ")
    seg = segment(owner, "Street", rule("tags", "any", ["ΟΔΟΣ"]))
    old = Tag.objects.for_tenant(tenant).get(name="ΟΔΟΣ")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.delete(reverse("tag-detail", kwargs={"pk": old.pk})).status_code == 204
    with django_capture_on_commit_callbacks(execute=True):
        r = owner.post(reverse("tag-list"), {"name": "οδοσ"}, format="json")
    assert r.status_code == 201, r.content
    # The rules compile again (the database finds "ΟΔΟΣ" as the tag "οδοσ") ...
    preview = owner.post(
        reverse("list-preview"), {"rules": {"rules": [rule("tags", "any", ["ΟΔΟΣ"])]}}, format="json"
    )
    assert preview.status_code == 200, preview.content
    # ... and the segment was rebuilt when the tag took the name: ada (old tag) left.
    assert not is_member(ada.pk, seg["id"])


@pytest.mark.django_db
def test_admin_bulk_delete_of_a_list_and_the_segment_naming_it_deletes_both(admin_client, tenant, owner):
    """Selected together (the list sorts first by name), the list is refused because the segment,
    also being deleted, still names it."""
    news = static(owner, "A news")
    seg = segment(owner, "B follows news", rule("lists", "in", [news["id"]]))
    response = admin_client.post(
        reverse("admin:lists_contactlist_changelist"),
        {"action": "delete_selected", "_selected_action": [news["id"], seg["id"]], "post": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert not ContactList.objects.unscoped().filter(pk=seg["id"]).exists()
    assert not ContactList.objects.unscoped().filter(pk=news["id"]).exists()

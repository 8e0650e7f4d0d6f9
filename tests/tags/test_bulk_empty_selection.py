"""Confirmed bug: a bulk `filter` selection that Django compiles to "matches nothing" (EmptyResultSet)
is a 500 on every bulk endpoint (tags apply/remove, list add/remove), instead of {"changed": 0}.

Cause: contacts/services/links.py _selection_sql (line 146) calls query.sql_with_params() on the
selection without catching django.core.exceptions.EmptyResultSet (raised for .none() and pk__in=[]),
used by contacts_link (line 167) and contacts_unlink (line 199). ContactFilter returns such querysets
for: tags_all naming an unknown tag (filters.py filter_tags_all -> queryset.none()), tags_all of
existing tags nobody holds together (_contacts_with_all_tags -> pk__in=[]), and contradictory
attribute conditions (filter_attribute -> queryset.none()). GET /contacts/ with the same filters
is a 200 with count 0 (the paginator catches EmptyResultSet).
"""

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from tags.models import TagAssignment
from tests.factories import AttributeDefinitionFactory, ContactFactory

TAGS = reverse("tag-list")
LISTS = reverse("list-list")


def _tag(api):
    r = api.post(TAGS, {"name": "Target"}, format="json")
    assert r.status_code == 201
    return r.json()["id"]


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["apply", "remove"])
def test_tag_bulk_with_tags_all_naming_an_unknown_tag_is_200_changed_0(api, tenant, action):
    ContactFactory(tenant=tenant)
    assert api.get(reverse("contact-list"), {"tags_all": "Nope"}).json()["count"] == 0  # the list agrees
    tag_id = _tag(api)
    r = api.post(
        reverse(f"tag-{action}", kwargs={"pk": tag_id}), {"filter": {"tags_all": "Nope"}}, format="json"
    )
    assert r.status_code == 200, (r.status_code, r.content[:200])
    assert r.json() == {"changed": 0}


@pytest.mark.django_db
def test_tag_apply_with_tags_all_of_tags_nobody_holds_together_is_200_changed_0(api, tenant):
    a = ContactFactory(tenant=tenant)
    b = ContactFactory(tenant=tenant)
    api.post(reverse("contact-add-tags", kwargs={"pk": a.pk}), {"tags": ["X"]}, format="json")
    api.post(reverse("contact-add-tags", kwargs={"pk": b.pk}), {"tags": ["Y"]}, format="json")
    assert api.get(reverse("contact-list"), {"tags_all": "X,Y"}).json()["count"] == 0
    tag_id = _tag(api)
    events = OutboxEvent.objects.unscoped().count()
    r = api.post(
        reverse("tag-apply", kwargs={"pk": tag_id}), {"filter": {"tags_all": ["X", "Y"]}}, format="json"
    )
    assert r.status_code == 200, (r.status_code, r.content[:200])
    assert r.json() == {"changed": 0}
    assert TagAssignment.objects.for_tenant(tenant).filter(tag_id=tag_id).count() == 0
    assert OutboxEvent.objects.unscoped().count() == events


@pytest.mark.django_db
def test_tag_apply_with_contradictory_attribute_conditions_is_200_changed_0(api, tenant):
    AttributeDefinitionFactory(tenant=tenant, key="plan", type="string")
    ContactFactory(tenant=tenant)
    assert api.get(reverse("contact-list"), {"attribute": "plan:pro,plan:free"}).json()["count"] == 0
    tag_id = _tag(api)
    r = api.post(
        reverse("tag-apply", kwargs={"pk": tag_id}),
        {"filter": {"attribute": "plan:pro,plan:free"}},
        format="json",
    )
    assert r.status_code == 200, (r.status_code, r.content[:200])
    assert r.json() == {"changed": 0}


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["list-contacts", "list-remove-contacts"])
def test_static_list_add_remove_with_tags_all_unknown_is_200_changed_0(api, tenant, url_name):
    ContactFactory(tenant=tenant)
    list_id = api.post(LISTS, {"name": "L"}, format="json").json()["id"]
    r = api.post(reverse(url_name, kwargs={"pk": list_id}), {"filter": {"tags_all": "Nope"}}, format="json")
    assert r.status_code == 200, (r.status_code, r.content[:200])
    assert r.json() == {"changed": 0}

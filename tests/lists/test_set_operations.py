"""Copy, merge and combine (union / intersection / difference / at least N) of lists."""

import pytest
from django.urls import reverse

from events.models import OutboxEvent
from lists.models import ContactList, ListMembership
from tests.factories import ContactFactory

LISTS = reverse("list-list")
COMBINE = reverse("list-combine")


def _members(list_id) -> set[str]:
    return {str(cid) for cid in ListMembership.objects.unscoped().filter(contact_list_id=list_id).values_list(
        "contact_id", flat=True
    )}  # fmt: skip


@pytest.fixture
def lists_abc(api, tenant):
    """Five contacts; A = {0,1,2}, B = {1,2,3}, C = {2,3,4}."""
    contacts = [ContactFactory(tenant=tenant, email=f"c{n}@x.com") for n in range(5)]
    made = {}
    for name, indexes in {"A": [0, 1, 2], "B": [1, 2, 3], "C": [2, 3, 4]}.items():
        made[name] = api.post(LISTS, {"name": name}, format="json").json()["id"]
        api.post(
            reverse("list-contacts", kwargs={"pk": made[name]}),
            {"contact_ids": [str(contacts[i].pk) for i in indexes]},
            format="json",
        )
    return made, [str(c.pk) for c in contacts]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("operation", "min_lists", "expected"),
    [
        ("union", None, {0, 1, 2, 3, 4}),
        ("intersection", None, {2}),
        ("difference", None, {0}),  # A minus B and C
        ("at_least", 2, {1, 2, 3}),
        ("at_least", 3, {2}),
        ("at_least", 1, {0, 1, 2, 3, 4}),
    ],
)
def test_combine_builds_a_new_static_list(api, lists_abc, operation, min_lists, expected):
    made, contacts = lists_abc
    body = {
        "name": f"{operation} {min_lists}",
        "operation": operation,
        "lists": [made["A"], made["B"], made["C"]],
    }
    if min_lists:
        body["min_lists"] = min_lists
    before = OutboxEvent.objects.unscoped().filter(event_type="contact.added_to_list").count()
    response = api.post(COMBINE, body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["kind"] == "static"
    assert response.json()["member_count"] == len(expected)
    assert _members(response.json()["id"]) == {contacts[i] for i in expected}
    after = OutboxEvent.objects.unscoped().filter(event_type="contact.added_to_list").count()
    assert after - before == len(expected)


@pytest.mark.django_db
def test_combine_leaves_out_deleted_contacts(api, tenant, lists_abc):
    made, contacts = lists_abc
    api.delete(reverse("contact-detail", kwargs={"pk": contacts[0]}))
    response = api.post(COMBINE, {"name": "U", "operation": "union", "lists": [made["A"]]}, format="json")
    assert _members(response.json()["id"]) == {contacts[1], contacts[2]}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"operation": "union", "lists": []}, "lists"),
        ({"operation": "xor", "lists": ["A"]}, "operation"),
        ({"operation": "difference", "lists": ["A"]}, "lists"),
        ({"operation": "at_least", "lists": ["A", "B"]}, "min_lists"),
        ({"operation": "at_least", "lists": ["A", "B"], "min_lists": 3}, "min_lists"),
        ({"operation": "union", "lists": ["A", "B"], "min_lists": 1}, "min_lists"),
        ({"operation": "union", "lists": ["A", "A"]}, "lists"),
        ({"operation": "union", "lists": ["not-a-uuid"]}, "lists"),
        ({"operation": "union", "lists": ["A"], "name": "A"}, "name"),  # name taken
    ],
)
def test_combine_rejects_bad_input_and_writes_nothing(api, lists_abc, body, field):
    made, _ = lists_abc
    body = {"name": "New", **body, "lists": [made.get(x, x) for x in body["lists"]]}
    before = (ContactList.objects.unscoped().count(), OutboxEvent.objects.unscoped().count())
    response = api.post(COMBINE, body, format="json")
    assert response.status_code == 400
    assert field in [e["field"].split(".")[0] for e in response.json()["errors"]]
    assert (ContactList.objects.unscoped().count(), OutboxEvent.objects.unscoped().count()) == before


@pytest.mark.django_db
def test_lists_of_another_tenant_cannot_be_combined_copied_or_merged(
    client_for, tenant, other_tenant, lists_abc
):
    made, _ = lists_abc
    theirs = client_for(other_tenant)
    their_list = theirs.post(LISTS, {"name": "Theirs"}, format="json").json()["id"]
    response = theirs.post(
        COMBINE, {"name": "Steal", "operation": "union", "lists": [made["A"]]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "lists"
    assert made["A"] in response.json()["errors"][0]["message"]
    assert (
        theirs.post(reverse("list-copy", kwargs={"pk": made["A"]}), {"name": "X"}, format="json").status_code
        == 404
    )
    merge = theirs.post(
        reverse("list-merge", kwargs={"pk": their_list}), {"lists": [made["A"]]}, format="json"
    )
    assert merge.status_code == 400
    assert ListMembership.objects.unscoped().filter(tenant=other_tenant).count() == 0
    assert ContactList.objects.unscoped().filter(tenant=other_tenant).count() == 1


@pytest.mark.django_db
def test_copy_of_a_static_list_has_its_members_and_description(api, lists_abc):
    made, contacts = lists_abc
    api.patch(reverse("list-detail", kwargs={"pk": made["A"]}), {"description": "Alpha"}, format="json")
    response = api.post(reverse("list-copy", kwargs={"pk": made["A"]}), {"name": "A copy"}, format="json")
    assert response.status_code == 201
    assert response.json()["description"] == "Alpha"
    assert _members(response.json()["id"]) == {contacts[0], contacts[1], contacts[2]}
    taken = api.post(reverse("list-copy", kwargs={"pk": made["A"]}), {"name": "a COPY"}, format="json")
    assert taken.status_code == 400
    static_as_dynamic = api.post(
        reverse("list-copy", kwargs={"pk": made["A"]}), {"name": "D", "kind": "dynamic"}, format="json"
    )
    assert static_as_dynamic.status_code == 400
    assert static_as_dynamic.json()["errors"][0]["field"] == "kind"


@pytest.mark.django_db
def test_copy_of_a_dynamic_list_keeps_rules_or_snapshots_members(api, tenant):
    ContactFactory(tenant=tenant, country="FR")
    segment = api.post(
        LISTS,
        {"name": "French", "kind": "dynamic", "rules": {"operator": "and", "rules": [
            {"field": "country", "op": "eq", "value": "FR"}]}},
        format="json",
    ).json()  # fmt: skip
    dynamic = api.post(
        reverse("list-copy", kwargs={"pk": segment["id"]}), {"name": "French 2"}, format="json"
    ).json()
    assert (dynamic["kind"], dynamic["rules"], dynamic["member_count"]) == ("dynamic", segment["rules"], 1)
    snapshot = api.post(
        reverse("list-copy", kwargs={"pk": segment["id"]}),
        {"name": "French frozen", "kind": "static"},
        format="json",
    ).json()
    assert (snapshot["kind"], snapshot["rules"], snapshot["member_count"]) == ("static", None, 1)
    api.post(reverse("contact-list"), {"email": "new@x.fr", "country": "FR"}, format="json")
    assert api.get(reverse("list-detail", kwargs={"pk": dynamic["id"]})).json()["member_count"] == 2
    assert api.get(reverse("list-detail", kwargs={"pk": snapshot["id"]})).json()["member_count"] == 1


@pytest.mark.django_db
def test_merge_adds_members_of_other_lists_and_can_delete_them(api, lists_abc):
    made, contacts = lists_abc
    url = reverse("list-merge", kwargs={"pk": made["A"]})
    response = api.post(url, {"lists": [made["B"], made["C"]]}, format="json")
    assert response.json() == {"changed": 2}  # 3 and 4 joined; 1 and 2 were members already
    assert _members(made["A"]) == set(contacts)
    assert api.post(url, {"lists": [made["B"]]}, format="json").json() == {"changed": 0}
    deleted = api.post(url, {"lists": [made["B"]], "delete_merged": True}, format="json")
    assert deleted.status_code == 200
    assert not ContactList.objects.unscoped().filter(pk=made["B"]).exists()
    assert ContactList.objects.unscoped().filter(pk=made["C"]).exists()


@pytest.mark.django_db
def test_merge_refuses_itself_and_dynamic_targets(api, tenant, lists_abc):
    made, _ = lists_abc
    itself = api.post(reverse("list-merge", kwargs={"pk": made["A"]}), {"lists": [made["A"]]}, format="json")
    assert itself.status_code == 400
    segment = api.post(
        LISTS,
        {
            "name": "S",
            "kind": "dynamic",
            "rules": {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]},
        },
        format="json",
    ).json()
    into_dynamic = api.post(
        reverse("list-merge", kwargs={"pk": segment["id"]}), {"lists": [made["A"]]}, format="json"
    )
    assert into_dynamic.status_code == 409


@pytest.mark.django_db
def test_set_operations_need_lists_manage(client_for, tenant, lists_abc):
    made, _ = lists_abc
    viewer = client_for(tenant, "contacts_viewer")
    before = ContactList.objects.unscoped().count()
    assert (
        viewer.post(
            COMBINE, {"name": "N", "operation": "union", "lists": [made["A"]]}, format="json"
        ).status_code
        == 403
    )
    assert (
        viewer.post(reverse("list-copy", kwargs={"pk": made["A"]}), {"name": "N"}, format="json").status_code
        == 403
    )
    merge = viewer.post(
        reverse("list-merge", kwargs={"pk": made["A"]}), {"lists": [made["B"]]}, format="json"
    )
    assert merge.status_code == 403
    assert ContactList.objects.unscoped().count() == before

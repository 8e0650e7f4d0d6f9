"""Probes of lists CRUD, members paging and set operations."""

import uuid

import pytest
from django.urls import reverse

from contacts_service.roles import Role
from events.models import OutboxEvent
from lists.models import ContactList, ListMembership
from tests.factories import ContactFactory

LISTS = reverse("list-list")


def lurl(list_id, action=None):
    if action:
        return reverse(f"list-{action}", kwargs={"pk": list_id})
    return reverse("list-detail", kwargs={"pk": list_id})


def mk(api, name, **kw):
    r = api.post(LISTS, {"name": name, **kw}, format="json")
    assert r.status_code == 201, r.json()
    return r.json()


def add(api, list_id, contacts):
    r = api.post(lurl(list_id, "contacts"), {"contact_ids": [str(c.pk) for c in contacts]}, format="json")
    assert r.status_code == 200, r.json()
    return r.json()["changed"]


@pytest.mark.django_db
def test_names_unique_ignoring_case(api):
    a = mk(api, "News")
    r = api.post(LISTS, {"name": "NEWS"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "unique"
    b = mk(api, "Other")
    r = api.patch(lurl(b["id"]), {"name": "news "}, format="json")
    assert r.status_code == 400
    r = api.patch(lurl(a["id"]), {"name": "NEWS"}, format="json")
    assert r.status_code == 200 and r.json()["name"] == "NEWS"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"name": ""},
        {"name": "x" * 151},
        {"name": "a\x00"},
        {"name": "x", "status": "bogus"},
        {"name": "x", "kind": "bogus"},
        {"name": "x", "description": None},
        {"name": "x", "rules": {"operator": "and", "rules": []}},
        {"name": "x", "kind": "dynamic"},
        {"name": "x", "kind": "dynamic", "rules": None},
        {"name": "x", "kind": "dynamic", "rules": "x"},
        {"name": "x", "kind": "dynamic", "rules": []},
        {"name": "x", "kind": "dynamic", "rules": {}},
        {"name": "x", "description": "a\x00"},
        {"name": "x", "status": None},
        {
            "name": "x",
            "kind": "dynamic",
            "rules": {"operator": "and", "rules": [{"field": "tags", "op": "any", "value": []}]},
        },
        {
            "name": "x",
            "kind": "dynamic",
            "rules": {"operator": "and", "rules": [{"field": "lists", "op": "in", "value": []}]},
        },
        {
            "name": "x",
            "kind": "dynamic",
            "rules": {"operator": "and", "rules": [{"field": "country", "op": "in", "value": []}]},
        },
        {"name": "x", "kind": "dynamic", "rules": {"operator": "or", "rules": []}},
    ],
)
def test_create_never_500(api, tenant, body):
    ContactFactory(tenant=tenant)
    r = api.post(LISTS, body, format="json")
    assert r.status_code in (201, 400), (r.status_code, r.content[:500])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"status": None},
        {"description": None},
        {"kind": None},
        {"rules": None},
        {"rules": {"operator": "and", "rules": []}},
        {},
        {"status": "archived"},
        {"kind": "static"},
        {"name": " "},
    ],
)
def test_patch_static_never_500(api, body):
    a = mk(api, "A")
    r = api.patch(lurl(a["id"]), body, format="json")
    assert r.status_code in (200, 400), (r.status_code, r.content[:500])


@pytest.mark.django_db
def test_kind_immutable(api):
    a = mk(api, "A")
    r = api.patch(lurl(a["id"]), {"kind": "dynamic"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "kind"
    d = mk(
        api,
        "D",
        kind="dynamic",
        rules={"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]},
    )
    r = api.patch(lurl(d["id"]), {"kind": "static"}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "kind"
    r = api.patch(lurl(d["id"]), {"kind": "static", "name": "DD"}, format="json")
    assert r.status_code == 400
    assert api.get(lurl(d["id"])).json()["name"] == "D"


@pytest.mark.django_db
def test_member_count_with_deleted(api, tenant):
    a = mk(api, "A")
    cs = [ContactFactory(tenant=tenant) for _ in range(3)]
    assert add(api, a["id"], cs) == 3
    api.delete(reverse("contact-detail", kwargs={"pk": cs[0].pk}))
    assert api.get(lurl(a["id"])).json()["member_count"] == 2
    assert api.get(LISTS).json()["results"][0]["member_count"] == 2
    r = api.get(lurl(a["id"], "contacts"))
    assert r.json()["count"] == 2 and len(r.json()["results"]) == 2


@pytest.mark.django_db
def test_members_paging_cursor_same_added_at(api, tenant):
    a = mk(api, "A")
    cs = [ContactFactory(tenant=tenant) for _ in range(23)]
    add(api, a["id"], cs[:20])
    add(api, a["id"], cs[20:])
    seen = []
    r = api.get(lurl(a["id"], "contacts"), {"cursor": "", "page_size": 7})
    while True:
        body = r.json()
        assert r.status_code == 200, body
        seen += [c["id"] for c in body["results"]]
        if not body["next_cursor"]:
            break
        r = api.get(lurl(a["id"], "contacts"), {"cursor": body["next_cursor"], "page_size": 7})
    assert len(seen) == 23 and len(set(seen)) == 23
    # newest first: the 3 added last come first
    assert set(seen[:3]) == {str(c.pk) for c in cs[20:]}
    pages = []
    for page in (1, 2, 3, 4):
        r = api.get(lurl(a["id"], "contacts"), {"page": page, "page_size": 7})
        assert r.status_code == 200
        pages += [c["id"] for c in r.json()["results"]]
    assert pages == seen
    r = api.get(lurl(a["id"], "contacts"), {"page": 2, "page_size": 7})
    nc = r.json()["next_cursor"]
    r = api.get(lurl(a["id"], "contacts"), {"cursor": nc, "page_size": 7})
    assert [c["id"] for c in r.json()["results"]] == seen[14:21]


@pytest.mark.django_db
def test_members_contact_in_two_lists(api, tenant):
    a = mk(api, "A")
    b = mk(api, "B")
    cs = [ContactFactory(tenant=tenant) for _ in range(5)]
    add(api, b["id"], cs)
    add(api, a["id"], cs[:3])
    r = api.get(lurl(a["id"], "contacts"), {"cursor": "", "page_size": 2})
    ids = [c["id"] for c in r.json()["results"]]
    r = api.get(lurl(a["id"], "contacts"), {"cursor": r.json()["next_cursor"], "page_size": 2})
    ids += [c["id"] for c in r.json()["results"]]
    assert sorted(ids) == sorted(str(c.pk) for c in cs[:3])
    assert r.json()["count"] == 3
    assert all("added_at" in c for c in r.json()["results"])


@pytest.mark.django_db
def test_members_other_tenants_list_404(api, client_for, other_tenant):
    other = client_for(other_tenant)
    o = mk(other, "O")
    assert api.get(lurl(o["id"], "contacts")).status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("flt", [{"tags": "Nope"}, {"list": str(uuid.uuid4())}])
def test_list_add_by_filter_never_500(api, tenant, flt):
    ContactFactory(tenant=tenant)
    a = mk(api, "A")
    r = api.post(lurl(a["id"], "contacts"), {"filter": flt}, format="json")
    assert r.status_code in (200, 400), (r.status_code, r.content[:300])
    r = api.post(lurl(a["id"], "remove-contacts"), {"filter": flt}, format="json")
    assert r.status_code in (200, 400), (r.status_code, r.content[:300])


@pytest.mark.django_db
def test_list_add_to_dynamic_409_and_ids_limits(api, tenant, other_tenant):
    d = mk(
        api,
        "D",
        kind="dynamic",
        rules={"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]},
    )
    c = ContactFactory(tenant=tenant)
    r = api.post(lurl(d["id"], "contacts"), {"contact_ids": [str(c.pk)]}, format="json")
    assert r.status_code == 409
    a = mk(api, "A")
    r = api.post(lurl(a["id"], "contacts"), {"contact_ids": [str(uuid.uuid4())] * 10_001}, format="json")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == "max_length"
    o = ContactFactory(tenant=other_tenant)
    r = api.post(lurl(a["id"], "contacts"), {"contact_ids": [str(c.pk), str(o.pk)]}, format="json")
    assert r.status_code == 400
    assert (
        ListMembership.objects.unscoped().count() == 0
        or ListMembership.objects.unscoped().filter(contact_list_id=a["id"]).count() == 0
    )


@pytest.mark.django_db
def test_copy_merge_combine(api, tenant, client_for, other_tenant):
    cs = [ContactFactory(tenant=tenant) for _ in range(4)]
    a = mk(api, "A")
    b = mk(api, "B")
    add(api, a["id"], cs[:3])
    add(api, b["id"], cs[2:])
    api.delete(reverse("contact-detail", kwargs={"pk": cs[0].pk}))
    r = api.post(lurl(a["id"], "copy"), {"name": "A2"}, format="json")
    assert r.status_code == 201, r.json()
    assert r.json()["member_count"] == 2
    r = api.post(lurl(a["id"], "copy"), {"name": "a2"}, format="json")
    assert r.status_code == 400
    r = api.post(lurl(a["id"], "copy"), {"name": "A3", "kind": "dynamic"}, format="json")
    assert r.status_code == 400
    for op, expected in (("union", 3), ("intersection", 1), ("difference", 1)):
        r = api.post(
            reverse("list-combine"), {"name": op, "operation": op, "lists": [a["id"], b["id"]]}, format="json"
        )
        assert r.status_code == 201, r.json()
        assert r.json()["member_count"] == expected, op
    r = api.post(
        reverse("list-combine"),
        {"name": "al", "operation": "at_least", "lists": [a["id"], b["id"]], "min_lists": 2},
        format="json",
    )
    assert r.json()["member_count"] == 1
    other = client_for(other_tenant)
    o = mk(other, "O")
    r = api.post(
        reverse("list-combine"),
        {"name": "x", "operation": "union", "lists": [a["id"], o["id"]]},
        format="json",
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "lists"
    r = api.post(lurl(b["id"], "merge"), {"lists": [a["id"]]}, format="json")
    assert r.status_code == 200 and r.json() == {"changed": 1}
    r = api.post(lurl(b["id"], "merge"), {"lists": [a["id"]]}, format="json")
    assert r.json() == {"changed": 0}
    r = api.post(lurl(b["id"], "merge"), {"lists": [b["id"]]}, format="json")
    assert r.status_code == 400
    r = api.post(lurl(b["id"], "merge"), {"lists": [o["id"]]}, format="json")
    assert r.status_code == 400
    r = api.post(lurl(b["id"], "merge"), {"lists": [a["id"]], "delete_merged": True}, format="json")
    assert r.status_code == 200
    assert api.get(lurl(a["id"])).status_code == 404
    assert ContactList.objects.unscoped().filter(pk=o["id"]).count() != 0


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "operation": "union", "lists": []},
        {"name": "x", "operation": "union", "lists": None},
        {"name": "x", "operation": "union", "lists": ["nope"]},
        {"name": "x", "operation": "bogus", "lists": []},
        {"name": "x", "operation": "at_least", "lists": "L"},
        {"name": "x", "operation": "at_least", "lists": "L", "min_lists": 0},
        {"name": "x", "operation": "at_least", "lists": "L", "min_lists": 5},
        {"name": "x", "operation": "union", "lists": "L", "min_lists": 1},
        {"name": "x", "operation": "difference", "lists": "L"},
        {"name": "x", "operation": "union", "lists": "LL"},
        {"name": "A", "operation": "union", "lists": "L"},
        {"name": None, "operation": "union", "lists": "L"},
        {"name": "x", "operation": "union", "lists": "L", "description": None},
        {"name": "x", "operation": "at_least", "lists": "L", "min_lists": "1"},
        {"name": "x", "operation": "at_least", "lists": "L", "min_lists": 10**30},
        {"name": "x", "operation": "union", "lists": [str(uuid.uuid4()) for _ in range(51)]},
    ],
)
def test_combine_bad_bodies(api, tenant, body):
    a = mk(api, "A")
    if body.get("lists") == "L":
        body["lists"] = [a["id"]]
    elif body.get("lists") == "LL":
        body["lists"] = [a["id"], a["id"]]
    r = api.post(reverse("list-combine"), body, format="json")
    assert r.status_code == 400, (r.status_code, r.content[:300])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"name": None},
        {"name": "A"},
        {"name": "a"},
        {},
        {"name": "x", "kind": None},
        {"name": "x", "description": None},
        {"name": "x", "kind": "bogus"},
        {"name": "x\x00"},
        {"name": "x", "lists": []},
    ],
)
def test_copy_bad_bodies(api, body):
    a = mk(api, "A")
    r = api.post(lurl(a["id"], "copy"), body, format="json")
    assert r.status_code == 400, (r.status_code, r.content[:300])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"lists": []},
        {"lists": None},
        {"lists": ["x"]},
        {},
        {"lists": "L", "delete_merged": None},
        {"lists": "L", "delete_merged": "yes"},
        {"lists": "L", "delete_merged": 1},
        {"lists": "LL"},
    ],
)
def test_merge_bad_bodies(api, body):
    a = mk(api, "A")
    b = mk(api, "B")
    if body.get("lists") == "L":
        body["lists"] = [b["id"]]
    elif body.get("lists") == "LL":
        body["lists"] = [b["id"], b["id"]]
    r = api.post(lurl(a["id"], "merge"), body, format="json")
    assert r.status_code == 400, (r.status_code, r.content[:300])


@pytest.mark.django_db
@pytest.mark.parametrize(
    "role,ok",
    [
        (Role.OWNER, True),
        (Role.CONTACTS_MANAGER, False),
        (Role.MARKETING_MANAGER, True),
        (Role.CONTACTS_VIEWER, False),
    ],
)
def test_list_permissions(client_for, tenant, role, ok):
    owner = client_for(tenant)
    client = client_for(tenant, role)
    c = ContactFactory(tenant=tenant)
    a = mk(owner, "A")
    b = mk(owner, "B")
    calls = [
        client.post(LISTS, {"name": "N"}, format="json"),
        client.patch(lurl(a["id"]), {"description": "x"}, format="json"),
        client.post(lurl(a["id"], "contacts"), {"contact_ids": [str(c.pk)]}, format="json"),
        client.post(lurl(a["id"], "remove-contacts"), {"contact_ids": [str(c.pk)]}, format="json"),
        client.post(lurl(a["id"], "copy"), {"name": "C"}, format="json"),
        client.post(lurl(a["id"], "merge"), {"lists": [b["id"]]}, format="json"),
        client.post(
            reverse("list-combine"), {"name": "X", "operation": "union", "lists": [a["id"]]}, format="json"
        ),
        client.delete(lurl(b["id"])),
    ]
    for r in calls:
        assert (r.status_code < 300) == ok, (r.status_code, r.content[:300])
        if not ok:
            assert r.status_code == 403
    assert client.get(lurl(a["id"], "contacts")).status_code == 200
    assert client.get(LISTS).status_code == 200


@pytest.mark.django_db
def test_no_op_emits_nothing(api, tenant):
    a = mk(api, "A")
    c = ContactFactory(tenant=tenant)
    add(api, a["id"], [c])
    n = OutboxEvent.objects.unscoped().count()
    assert add(api, a["id"], [c]) == 0
    r = api.post(lurl(a["id"], "remove-contacts"), {"contact_ids": [str(c.pk)]}, format="json")
    assert r.json() == {"changed": 1}
    r = api.post(lurl(a["id"], "remove-contacts"), {"contact_ids": [str(c.pk)]}, format="json")
    assert r.json() == {"changed": 0}
    assert OutboxEvent.objects.unscoped().count() == n + 1

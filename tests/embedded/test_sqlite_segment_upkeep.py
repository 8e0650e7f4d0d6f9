"""Dynamic segment upkeep in the embedded default (SQLite: no row locks; contacts.services.links.target_lock
only checks the tag or list is there): a dynamic list created or re-activated, and contact writes past
SEGMENTS_INLINE_LIMIT (their upkeep in a task, in-process), answer as on PostgreSQL."""

from tests.embedded.test_sqlite_parity import on_sqlite

HELPERS = r"""
def members(list_id):
    r = api.get(f"/api/v1/lists/{list_id}/contacts/")
    return sorted(c["email"] for c in r.json()["results"]) if r.status_code == 200 else r.status_code

def list_id(name):
    return [x["id"] for x in api.get("/api/v1/lists/").json()["results"] if x["name"] == name][0]

FR = {"operator": "and", "rules": [{"field": "country", "op": "eq", "value": "FR"}]}
api.post("/api/v1/contacts/", {"email": "ann@x.example", "country": "FR"}, format="json")
api.post("/api/v1/contacts/", {"email": "bob@x.example", "country": "DE"}, format="json")
"""

CREATE = (
    HELPERS
    + r"""
r = api.post("/api/v1/lists/", {"name": "French", "kind": "dynamic", "rules": FR}, format="json")
out["create"] = r.status_code
out["members"] = members(list_id("French"))
r = api.post("/api/v1/lists/", {"name": "French", "kind": "dynamic", "rules": FR}, format="json")
out["retry"] = r.status_code  # a client retrying the 500 finds its name taken
"""
)


def test_creating_a_dynamic_list_answers_201_in_the_embedded_default(tmp_path):
    """POST /lists/ with kind=dynamic on SQLite: 201, the list filled (its catch-up runs after commit)."""
    assert on_sqlite(tmp_path, CREATE) == {"create": 201, "members": ["ann@x.example"], "retry": 400}


REACTIVATE = (
    HELPERS
    + r"""
from lists.models import ContactList
ContactList.objects.unscoped().create(tenant=tenant, name="French", kind="dynamic", rules=FR)
seg = list_id("French")
out["archive"] = api.patch(f"/api/v1/lists/{seg}/", {"status": "archived"}, format="json").status_code
api.post("/api/v1/contacts/", {"email": "cat@x.example", "country": "FR"}, format="json")
r = api.patch(f"/api/v1/lists/{seg}/", {"status": "active"}, format="json")
out["reactivate"] = r.status_code
out["members"] = members(seg)
"""
)


def test_reactivating_an_archived_segment_answers_200_in_the_embedded_default(tmp_path):
    """PATCH of an archived dynamic list to active on SQLite: 200, its members as its rules say."""
    assert on_sqlite(tmp_path, REACTIVATE) == {
        "archive": 200,
        "reactivate": 200,
        "members": ["ann@x.example", "cat@x.example"],
    }


MANY_SEGMENTS = (
    HELPERS
    + r"""
from django.test import override_settings
from lists.models import ContactList
ContactList.objects.unscoped().create(tenant=tenant, name="French", kind="dynamic", rules=FR)
seg = list_id("French")
with override_settings(SEGMENTS_INLINE_LIMIT=0):  # as a tenant with more than 20 segments
    rows = api.get("/api/v1/contacts/").json()["results"]
    bob = [c["id"] for c in rows if c["email"] == "bob@x.example"][0]
    out["patch"] = api.patch(f"/api/v1/contacts/{bob}/", {"country": "FR"}, format="json").status_code
    out["create"] = api.post("/api/v1/contacts/", {"email": "cat@x.example", "country": "FR"},
                             format="json").status_code
    out["members"] = members(seg)
"""
)


def test_contact_writes_keep_segments_current_past_the_inline_limit_in_the_embedded_default(tmp_path):
    """More segments than SEGMENTS_INLINE_LIMIT on SQLite: contact writes answer 200/201 and the
    contacts enter and leave the segments (the task runs in-process)."""
    assert on_sqlite(tmp_path, MANY_SEGMENTS) == {
        "patch": 200,
        "create": 201,
        "members": ["bob@x.example", "cat@x.example"],
    }

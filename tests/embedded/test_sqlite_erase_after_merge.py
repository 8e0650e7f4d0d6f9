"""GDPR erase of a contact that took part in a merge, in the embedded default (SQLite): the primary
of an applied merge, a contact whose merge was undone, and the admin's erase action (each was a
500 "malformed JSON": SQLite's key lookup read the merge ids as JSON)."""

from tests.embedded.test_sqlite_default import run_embedded
from tests.embedded.test_sqlite_parity import PRELUDE

SCRIPT = (
    PRELUDE
    + r"""
from django.test import Client
from contacts_service.models import User

def new(email):
    return api.post("/api/v1/contacts/", {"email": email}, format="json").json()["id"]

# 1. erase the primary of an applied merge (the merged contact goes with it)
a, b = new("ann@x.example"), new("bob@x.example")
assert api.post(f"/api/v1/contacts/{a}/merge/", {"others": [b]}, format="json").status_code == 201
r = api.post(f"/api/v1/contacts/{a}/erase/")
out["erase primary"] = [r.status_code, api.get(f"/api/v1/contacts/{a}/").status_code]
# 2. erase a contact whose merge was undone
c, d = new("cat@x.example"), new("dan@x.example")
merge = api.post(f"/api/v1/contacts/{c}/merge/", {"others": [d]}, format="json").json()
assert api.post(f"/api/v1/merges/{merge['merge_id']}/undo/").status_code == 200
r = api.post(f"/api/v1/contacts/{d}/erase/")
out["erase after undo"] = [r.status_code, api.get(f"/api/v1/contacts/{d}/").status_code]
# 3. the admin's "Erase permanently (GDPR)" action on a merge's primary
e, f = new("eve@x.example"), new("fay@x.example")
assert api.post(f"/api/v1/contacts/{e}/merge/", {"others": [f]}, format="json").status_code == 201
operator = User.objects.create_superuser(username="root", email="root@x.example", password="pw-123456789")
admin = Client(raise_request_exception=False)
admin.force_login(operator)
action = {"action": "erase_permanently", "_selected_action": [e], "post": "yes"}
r = admin.post("/admin/contacts/contact/", action)
out["admin erase"] = [r.status_code, api.get(f"/api/v1/contacts/{e}/").status_code]
print("RESULT " + json.dumps(out))
"""
)


def test_erasing_a_contact_that_took_part_in_a_merge_works_in_the_embedded_default(tmp_path):
    out = run_embedded(tmp_path, SCRIPT)
    assert out == {
        "erase primary": [200, 404],
        "erase after undo": [200, 404],
        "admin erase": [302, 404],
    }

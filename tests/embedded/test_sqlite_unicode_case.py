"""Any-case matching of non-ASCII letters in the embedded default (SQLite), as on PostgreSQL: search,
?city=, ?company=, segment rules and tag names (unique ignoring case). SQLite's LIKE and lower()
fold ASCII only; the connection gets Unicode ones (contacts.apps.register_sqlite_functions)."""

from tests.embedded.test_sqlite_default import run_embedded
from tests.embedded.test_sqlite_parity import PRELUDE

SCRIPT = (
    PRELUDE
    + r"""
body = {"email": "elodie@x.example", "first_name": "Élodie", "company": "Société Générale", "city": "Zürich"}
cid = api.post("/api/v1/contacts/", body, format="json").json()["id"]

def found(params):
    r = api.get("/api/v1/contacts/", params)
    return [c["email"] for c in r.json()["results"]] if r.status_code == 200 else r.status_code

out["search élodie"] = found({"search": "élodie"})
out["search SOCIÉTÉ"] = found({"search": "SOCIÉTÉ"})
out["city ZÜRICH"] = found({"city": "ZÜRICH"})
out["company GÉNÉRALE"] = found({"company": "GÉNÉRALE"})
rules = {"operator": "and", "rules": [{"field": "first_name", "op": "starts_with", "value": "élo"}]}
r = api.post("/api/v1/lists/preview/", {"rules": rules}, format="json")
out["segment starts_with"] = [c["email"] for c in r.json()["results"]]
api.post(f"/api/v1/contacts/{cid}/tags/", {"tags": ["ÉTÉ"]}, format="json")
r = api.post(f"/api/v1/contacts/{cid}/tags/", {"tags": ["été"]}, format="json")
out["tags on contact"] = sorted(t["name"] for t in r.json()["tags"])
out["tag create été"] = api.post("/api/v1/tags/", {"name": "été"}, format="json").status_code
out["filter tags=été"] = found({"tags": "été"})
print("RESULT " + json.dumps(out))
"""
)


def test_any_case_matching_of_accented_letters_in_the_embedded_default(tmp_path):
    out = run_embedded(tmp_path, SCRIPT)
    email = ["elodie@x.example"]
    assert out == {
        "search élodie": email,
        "search SOCIÉTÉ": email,
        "city ZÜRICH": email,
        "company GÉNÉRALE": email,
        "segment starts_with": email,
        "tags on contact": ["ÉTÉ"],
        "tag create été": 400,
        "filter tags=été": email,
    }

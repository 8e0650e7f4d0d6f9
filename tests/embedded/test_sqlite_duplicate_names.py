"""Duplicate candidates by name in the embedded default (SQLite): the Python pass scores names with
pg_trgm's similarity (contacts.services.duplicates.trigram_similarity), so both databases pair the
same contacts. difflib's ratio, used before, paired "Ann Lee" and "Dan Lee" at one company (0.86;
0.33 by trigrams) and gave "Anne Lee" / "Anna Leigh" a `name` reason."""

from tests.embedded.test_sqlite_default import run_embedded
from tests.embedded.test_sqlite_parity import PRELUDE

SCRIPT = (
    PRELUDE
    + r"""
def new(body):
    return api.post("/api/v1/contacts/", body, format="json").json()["id"]

new({"email": "ann@x.example", "first_name": "Ann", "last_name": "Lee", "company": "Acme"})
new({"email": "dan@y.example", "first_name": "Dan", "last_name": "Lee", "company": "Acme"})
new({"email": "anne@z.example", "first_name": "Anne", "last_name": "Lee", "phone": "+33612345678"})
new({"email": "anna@w.example", "first_name": "Anna", "last_name": "Leigh", "phone": "+33612345678"})
pairs = api.get("/api/v1/duplicates/").json()["results"]
out["pairs"] = sorted(
    [sorted(c["email"] for c in p["contacts"]), p["score"], sorted(p["reasons"])] for p in pairs
)
print("RESULT " + json.dumps(out))
"""
)


def test_name_similarity_is_the_trigram_similarity_in_the_embedded_default(tmp_path):
    out = run_embedded(tmp_path, SCRIPT)
    # As on PostgreSQL: Ann Lee / Dan Lee are no pair; Anne Lee / Anna Leigh only by phone.
    assert out == {"pairs": [[["anna@w.example", "anne@z.example"], 80, ["phone"]]]}

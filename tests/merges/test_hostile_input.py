"""Hostile input to merges, matching rules and duplicates: always a 400 or 404, never a 500."""

import pytest
from django.urls import reverse

from tests.merges.conftest import DUPLICATES, RULES, create, merge_url, preview_url


@pytest.mark.django_db
def test_malformed_bodies_and_parameters_are_400s(api):
    p = create(api, email="p@example.com")
    o = create(api, email="o@example.com")
    bodies = [
        [],
        "x",
        1,
        None,
        {"others": [None]},
        {"others": [{"a": 1}]},
        {"others": [o["id"]], "fields": {"city": 1}},
        {"others": [o["id"]], "fields": {"\x00": o["id"]}},
        {"others": [o["id"]], "fields": {"attributes.": o["id"]}},
        {"others": [o["id"]], "strategy": None},
        {"others": [o["id"]], "fields": None},
        {"others": [o["id"]], "dry_run": None},
        {"others": [o["id"]], "fields": {"attributes.x\x00": o["id"]}},
    ]
    for body in bodies:
        for url in (merge_url(p["id"]), preview_url(p["id"])):
            r = api.post(url, body, format="json")
            assert r.status_code == 400, (body, r.status_code, r.content)
    for body in [
        [],
        {"rules": [[None]]},
        {"rules": [["email"]] * 30},
        {"name_similarity": "NaN"},
        {"name_similarity": "Infinity"},
        {"rules": [[["email"]]]},
        {"rules": None},
        {"email_gmail_folding": "x"},
        {"rules": [{"a": 1}]},
    ]:
        r = api.put(RULES, body, format="json")
        assert r.status_code == 400, (body, r.content)
    for params in [
        {"min_score": "NaN"},
        {"min_score": "1e400"},
        {"min_score": "-1"},
        {"page_size": 0},
        {"reason": "\x00"},
    ]:
        r = api.get(DUPLICATES, params)
        assert r.status_code == 400, (params, r.content)
    assert api.post(reverse("duplicate-dismiss", kwargs={"pk": "x" * 500})).status_code == 404
    assert api.get(reverse("merge-detail", kwargs={"pk": "zz"})).status_code == 404

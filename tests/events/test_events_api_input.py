"""Events, activities and timeline API inputs: a 400 naming the field, never a 500."""

import pytest
from django.urls import reverse

from tests.factories import ContactFactory

BATCH = reverse("activity-batch")
EVENTS = reverse("event-list")
REPLAY = reverse("event-replay")


def activities_url(contact_id) -> str:
    return reverse("contact-activities", kwargs={"contact_pk": contact_id})


@pytest.fixture
def ann(tenant):
    return ContactFactory(tenant=tenant, email="ann@example.com")


def _dumps(body):
    import json

    return json.dumps(body).replace("Infinity", "1e400")


def _ok_or_400(response):
    assert response.status_code < 500, (response.status_code, response.content[:500])
    return response


@pytest.mark.parametrize(
    "body",
    [
        {"activities": None},
        {"activities": "x"},
        {"activities": {"a": 1}},
        {"activities": [None]},
        {"activities": [1]},
        {"activities": [[]]},
        {"activities": [{"type": "a_b", "contact_id": 5}]},
        {"activities": [{"type": "a_b", "contact_id": "not-a-uuid"}]},
        {"activities": [{"type": "a_b", "contact_id": None, "email": "ann@example.com"}]},
        {"activities": [{"type": "a_b", "email": ["ann@example.com"]}]},
        {"activities": [{"type": ["a_b"], "email": "ann@example.com"}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "occurred_at": 1700000000}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "occurred_at": "2026-01-01"}]},
        {
            "activities": [
                {"type": "a_b", "email": "ann@example.com", "occurred_at": "0001-01-01T00:00:00+01:00"}
            ]
        },
        {"activities": [{"type": "a_b", "email": "ann@example.com", "occurred_at": "0001-01-01T00:00:00Z"}]},
        {
            "activities": [
                {"type": "a_b", "email": "ann@example.com", "occurred_at": "9999-12-31T23:59:59-01:00"}
            ]
        },
        {
            "activities": [
                {"type": "a_b", "email": "ann@example.com", "occurred_at": "2026-01-01T00:00:00+25:00"}
            ]
        },
        {"activities": [{"type": "a_b", "email": "ann@example.com", "data": []}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "data": {"k\u0000": 1}}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "data": {"k": "v\u0000"}}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "data": {"k": 1e400}}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "data": {"k": 10**30}}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "title": 5}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "idempotency_key": 5}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "idempotency_key": ""}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "idempotency_key": "k" * 300}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "source": "s" * 40}]},
        {"activities": [{"type": "a_b", "email": "ann@example.com", "source": None}]},
        {"activities": [{"type": "a_b", "email": "ANN@Example.COM "}]},
        {"activities": [{"type": "a_b", "email": "x" * 250 + "@e.com"}]},
    ],
)
def test_batch_odd_bodies_never_500(api, ann, body):
    _ok_or_400(api.post(BATCH, _dumps(body), content_type="application/json"))


@pytest.mark.parametrize(
    "body",
    [
        {"type": "a_b", "occurred_at": "2026-01-01T00:00:00+25:00"},
        {"type": "a_b", "occurred_at": "0001-01-01T00:00:00Z"},
        {"type": "a_b", "occurred_at": "0001-01-01T00:30:00+01:00"},
        {"type": "a_b", "data": {"a": {"b\u0000": 1}}},
        {"type": "a_b", "idempotency_key": "a\u0000"},
        {"type": "a_b", "data": None},
        {"type": "a_b", "title": None},
        {"type": "a_b", "contact_id": "x"},
    ],
)
def test_single_odd_bodies_never_500(api, ann, body):
    _ok_or_400(api.post(activities_url(ann.pk), body, format="json"))


@pytest.mark.parametrize(
    "params",
    [
        {"contact": "nope"},
        {"event_id": "nope"},
        {"created_after": "2026-13-01"},
        {"created_after": "0001-01-01T00:00:00+01:00"},
        {"created_before": "9999-12-31T23:59:59-01:00"},
        {"status": "x"},
        {"event_type": "a\x00b"},
        {"contact": "a\x00b"},
        {"page_size": "0"},
        {"page": "0"},
        {"page": "99999999999999999999"},
        {"cursor": "junk"},
        {"ordering": "payload"},
    ],
)
def test_events_filters_never_500(api, params):
    _ok_or_400(api.get(EVENTS, params))


def test_event_detail_huge_id(api):
    _ok_or_400(api.get(EVENTS + "99999999999999999999999/"))
    _ok_or_400(api.get(EVENTS + "9223372036854775808/"))


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"created_after": "2026-01-01T00:00:00Z"},
        {"created_after": "2026-01-02T00:00:00Z", "created_before": "2026-01-01T00:00:00Z"},
        {"created_after": "0001-01-01T00:00:00+01:00", "created_before": "2026-01-01T00:00:00Z"},
        {"created_after": "2026-01-01T00:00:00Z", "created_before": "9999-12-31T23:59:59-01:00"},
        {
            "created_after": "2026-01-01T00:00:00Z",
            "created_before": "2027-01-01T00:00:00Z",
            "event_type": "x",
        },
        {
            "created_after": "2026-01-01T00:00:00Z",
            "created_before": "2027-01-01T00:00:00Z",
            "event_type": [1],
        },
        {
            "created_after": "2026-01-01T00:00:00Z",
            "created_before": "2027-01-01T00:00:00Z",
            "event_type": ["a\x00"],
        },
        {"created_after": "2026-01-01T00:00:00Z", "created_before": "2027-01-01T00:00:00Z", "contact_id": 5},
        {
            "created_after": "2026-01-01T00:00:00Z",
            "created_before": "2027-01-01T00:00:00Z",
            "contact_id": "x",
        },
        {"created_after": 5, "created_before": "2027-01-01T00:00:00Z"},
        {"created_after": None, "created_before": "2027-01-01T00:00:00Z"},
        [],
        "x",
    ],
)
def test_replay_bodies_never_500(api, body):
    _ok_or_400(api.post(REPLAY, body, format="json"))


@pytest.mark.parametrize(
    "params",
    [
        {"type": "a\x00"},
        {"type": ",".join(f"t{i}" for i in range(50))},
        {"page_size": "1000"},
        {"cursor": "junk"},
    ],
)
def test_activities_list_never_500(api, ann, params):
    _ok_or_400(api.get(activities_url(ann.pk), params))


@pytest.mark.parametrize(
    "params",
    [
        {"type": "a\x00"},
        {"activity_type": "a\x00"},
        {"occurred_after": "0001-01-01T00:00:00+01:00"},
        {"occurred_before": "9999-12-31T23:59:59-01:00"},
        {"occurred_after": "2026-13-01"},
        {"cursor": "junk"},
    ],
)
def test_timeline_never_500(api, ann, params):
    _ok_or_400(api.get(reverse("contact-timeline", kwargs={"pk": ann.pk}), params))

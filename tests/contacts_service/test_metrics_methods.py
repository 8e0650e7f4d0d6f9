"""GET /metrics refuses other methods with a JSON 405 (contacts_service.metrics.metrics_view)."""

import pytest
from django.test import Client, override_settings


@pytest.mark.django_db
def test_post_to_metrics_is_a_json_405_not_the_html_csrf_page():
    """metrics_view answers 405 method_not_allowed in the error shape for anything but GET/HEAD; it is
    csrf_exempt (no session there), so a real client (CSRF enforced, as here) gets that 405 and not
    Django's HTML "CSRF verification failed" 403 page."""
    client = Client(enforce_csrf_checks=True)
    with override_settings(METRICS_TOKEN="scrape-token"):
        response = client.post("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token")
    assert response["Content-Type"].startswith("application/json"), response.content[:80]
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.django_db
def test_post_to_metrics_without_the_token_is_still_a_json_401():
    client = Client(enforce_csrf_checks=True)
    with override_settings(METRICS_TOKEN="scrape-token"):
        response = client.post("/metrics")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"

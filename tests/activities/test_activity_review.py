"""Review of activities' email canonicalisation: punycode that decodes to a lone surrogate."""

from django.urls import reverse

BATCH = reverse("activity-batch")


def test_batch_email_whose_punycode_decodes_to_a_surrogate_is_not_a_500(api, tenant):
    """`ann@xn--a-rc4g.de` passes EmailField (an ASCII domain); canonical_email decodes the label to
    'a\\ud800', which the database driver cannot encode: the lookup raised (a 500). Before the change
    the ASCII spelling was looked up as is (contact_not_found)."""
    item = {"type": "email_opened", "email": "ann@xn--a-rc4g.de"}
    api.raise_request_exception = False

    response = api.post(BATCH, {"activities": [item]}, format="json")

    assert response.status_code in (200, 400), response.content[:300]

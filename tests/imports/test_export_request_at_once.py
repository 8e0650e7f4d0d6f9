"""POST /exports/ checks everything at once (found by a bug hunt): a bad delimiter or bom no longer
hides bad filters and columns until the next try."""

import pytest

from imports.models import ExportJob
from tests.imports.test_export import EXPORTS


@pytest.mark.parametrize("bad", [{"delimiter": ":"}, {"bom": "maybe"}])
def test_one_400_names_the_option_the_filters_and_the_columns(api, bad):
    response = api.post(EXPORTS, {**bad, "filters": {"bogus": "1"}, "columns": ["nope"]}, format="json")

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {*bad, "filters.bogus", "columns.0"}
    assert not ExportJob.objects.unscoped().exists()


def test_a_malformed_filters_object_is_named_alone(api):
    response = api.post(
        EXPORTS, {"delimiter": ":", "filters": ["status"], "columns": ["nope"]}, format="json"
    )

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"delimiter", "filters"}

"""An exported file imports back as it was: nothing fails, nothing changes, no new tag. Found by an
imports/exports hunt (the tags cell, the formula prefix, long numbers, attribute column names)."""

import csv
import io

import pytest
from django.urls import reverse

from contacts.models import Contact
from tags.models import Tag
from tests.imports.conftest import run, upload


def _job_id(api, content) -> str:
    response = upload(api, content)
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def _download(api, job: dict) -> bytes:
    assert job["status"] == "completed", job
    response = api.get(job["download_url"])
    assert response.status_code == 200
    return b"".join(response.streaming_content) if response.streaming else response.content


def _contact(api, **body) -> dict:
    response = api.post(reverse("contact-list"), body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def _score(api) -> None:
    body = {"key": "score", "label": "Score", "type": "number"}
    assert api.post(reverse("attribute-definition-list"), body, format="json").status_code == 201


def _reimport(api, job: dict, **options) -> dict:
    """The exported file, uploaded as it is, run with the mapping the upload suggests."""
    return run(api, _job_id(api, _download(api, job)), **options)


@pytest.mark.parametrize("value", [-5, 1e300, 1e-300, 1e20, 2.5])
def test_a_number_attribute_comes_back_as_it_was(api, tenant, export, value):
    """-5 is written '-5 (the formula prefix), 1e300 as its 301 digits, 1e-300 as 0.000...1 (302
    characters): each imports back unchanged (the ' was not a number; over 100 characters failed)."""
    _score(api)
    _contact(api, email="ann@example.com", attributes={"score": value})
    stored = Contact.objects.for_tenant(tenant).get().attributes["score"]  # 1e300: a whole number
    job = export(columns=["email", "attributes.score"])
    result = _reimport(api, job)
    assert (result["failed"], result["updated"], result["unchanged"]) == (0, 0, 1), result
    assert Contact.objects.for_tenant(tenant).get().attributes["score"] == stored


def test_attribute_columns_are_suggested_by_the_exports_own_names(api, export):
    """The export names a column `attributes.<key>`: the upload suggests that target (it suggested
    "", ignoring every custom attribute column of an exported file)."""
    _score(api)
    _contact(api, email="ann@example.com", attributes={"score": 7})
    job = export(columns=["email", "attributes.score"])
    response = upload(api, _download(api, job))
    assert response.json()["mapping"] == {"email": "email", "attributes.score": "attributes.score"}


def test_a_tag_starting_with_a_dash_comes_back_as_it_was(api, tenant, export):
    """A tag "-10% promo" is exported as '-10% promo (the whole cell prefixed): the import reads it
    without the ' (it created and assigned a tag "'-10% promo")."""
    ann = _contact(api, email="ann@example.com")
    url = reverse("contact-add-tags", kwargs={"pk": ann["id"]})
    assert api.post(url, {"tags": ["-10% promo", "VIP"]}, format="json").status_code in (200, 201)
    job = export(columns=["email", "tags"])
    assert list(csv.reader(io.StringIO(_download(api, job).decode())))[1] == [
        "ann@example.com",
        "'-10% promo; VIP",
    ]
    result = _reimport(api, job)
    assert (result["failed"], result["updated"], result["unchanged"]) == (0, 0, 1), result
    assert sorted(Tag.objects.for_tenant(tenant).values_list("name", flat=True)) == ["-10% promo", "VIP"]


@pytest.mark.parametrize("name", ["R;D", "R|D", "Paris, France"])
def test_a_tag_name_with_a_separator_is_refused(api, name):
    """An import's tags column splits on , ; and | (an export joins with "; "): "R;D" came back from
    an exported file as the tags "R" and "D". Refused as a comma is, on create and on tagging."""
    created = api.post(reverse("tag-list"), {"name": name}, format="json")
    assert created.status_code == 400, created.json()
    assert created.json()["errors"][0]["field"] == "name"
    ann = _contact(api, email="ann@example.com")
    tagged = api.post(reverse("contact-add-tags", kwargs={"pk": ann["id"]}), {"tags": [name]}, format="json")
    assert tagged.status_code == 400, tagged.json()
    assert not Tag.objects.unscoped().exists()


@pytest.mark.parametrize(
    ("cell", "stored"),
    [("1e20", 10**20), ("1E+20", 10**20), ("100000000000000000000", 10**20), ("'-7", -7),
     ("9007199254740993", None), ("-9007199254740993", None)],
)  # fmt: skip
def test_number_cells_follow_the_apis_rules(api, tenant, cell, stored):
    """1e20 is stored as the whole number 10^20, as the API stores it; 2^53 + 1, which no double
    holds as written, fails the row."""
    _score(api)
    job = run(api, _job_id(api, f"email,score\nann@example.com,{cell}\n"))
    if stored is None:
        assert (job["failed"], job["created"]) == (1, 0), job
    else:
        value = Contact.objects.for_tenant(tenant).get().attributes["score"]
        assert (value, type(value)) == (stored, int)

"""A list an import under way adds its rows to is not deleted: the import would go on adding them to
no list, saying nothing (found by a bug hunt). 409 in_use naming the import, as for a list a
segment names; once the import has ended the list can go."""

import pytest
from django.urls import reverse

from imports.models import ImportJob, ImportStatus
from lists.models import ContactList
from tests.lists.segment_helpers import static


def _import_into(tenant, list_id, status):
    return ImportJob.objects.unscoped().create(
        tenant=tenant, file="imports/x.csv", encoding="utf-8", delimiter=",", status=status, list_id=list_id
    )


@pytest.mark.django_db
def test_a_list_an_import_is_adding_to_is_kept_until_the_import_ends(owner, tenant):
    news = static(owner, "News")
    job = _import_into(tenant, news["id"], ImportStatus.RUNNING)
    url = reverse("list-detail", kwargs={"pk": news["id"]})

    refused = owner.delete(url)

    assert refused.status_code == 409, refused.content
    body = refused.json()
    assert body["code"] == "in_use" and body["imports"] == [str(job.pk)]
    assert ContactList.objects.unscoped().filter(pk=news["id"]).exists()
    ImportJob.objects.unscoped().filter(pk=job.pk).update(status=ImportStatus.COMPLETED)
    assert owner.delete(url).status_code == 204


@pytest.mark.django_db
def test_merging_with_delete_merged_refuses_the_same_and_writes_nothing(owner, tenant):
    news, into = static(owner, "News"), static(owner, "Into")
    _import_into(tenant, news["id"], ImportStatus.QUEUED)

    response = owner.post(
        reverse("list-merge", kwargs={"pk": into["id"]}),
        {"lists": [news["id"]], "delete_merged": True},
        format="json",
    )

    assert response.status_code == 409 and response.json()["code"] == "in_use"
    assert ContactList.objects.unscoped().filter(pk=news["id"]).exists()

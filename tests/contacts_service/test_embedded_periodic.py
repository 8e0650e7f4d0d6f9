"""The embedded default runs beat's schedule in-process (contacts_service.periodic): every entry
once at start, then each when its interval has passed; a task that fails does not stop the others."""

import pytest
from django.test import override_settings

from contacts_service import periodic
from contacts_service.settings import CELERY_BEAT_SCHEDULE
from imports.models import ImportJob, ImportStatus
from tests.factories import TenantFactory


@pytest.mark.django_db(transaction=True)
def test_every_entry_runs_at_start_then_each_on_its_interval():
    next_runs: dict[str, float] = {}

    assert periodic.run_due(next_runs, 1000.0) == dict.fromkeys(CELERY_BEAT_SCHEDULE, True)
    assert periodic.run_due(next_runs, 1059.0) == {}
    every_minute = [name for name, entry in CELERY_BEAT_SCHEDULE.items() if entry["schedule"] == 60.0]
    assert every_minute and periodic.run_due(next_runs, 1060.0) == dict.fromkeys(every_minute, True)


@pytest.mark.django_db(transaction=True)
def test_the_tasks_do_their_work_in_process():
    """An import draft past its retention is cancelled by the run at start, as beat's hourly run would."""
    tenant = TenantFactory()
    with override_settings(IMPORT_DRAFT_RETENTION_SECONDS=1):
        draft = ImportJob.objects.unscoped().create(
            tenant=tenant, file="imports/none.csv", encoding="utf-8", delimiter=","
        )
        ImportJob.objects.unscoped().filter(pk=draft.pk).update(
            created_at=draft.created_at.replace(year=2020)
        )
        periodic.run_due({}, 0.0)
    assert ImportJob.objects.unscoped().get(pk=draft.pk).status == ImportStatus.CANCELLED


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_does_not_stop_the_others():
    schedule = {
        "broken": {"task": "contacts_service.no_such_task", "schedule": 60.0},
        "prune": {"task": "imports.tasks.exports_prune", "schedule": 60.0},
    }
    with override_settings(CELERY_BEAT_SCHEDULE=schedule):
        assert periodic.run_due({}, 0.0) == {"broken": False, "prune": True}

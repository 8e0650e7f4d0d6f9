"""Celery tasks of imports and exports: run (or resume) a job, re-queue jobs whose worker died or whose
message was lost, cancel imports never started, delete old export files."""

from celery import shared_task

from imports import exports, services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def import_run(job_id: str) -> str:
    """Idempotent: a redelivered or duplicated message resumes the job after its checkpoint (or
    finds it running under another worker's lock, or finished, and returns)."""
    return services.import_process(job_id)


@shared_task(ignore_result=True)
def contacts_analyze_task() -> float | None:
    """ANALYZE contacts_contact after an import that wrote many contacts (services.contacts_analyze)."""
    return services.contacts_analyze()


@shared_task(ignore_result=True)
def imports_requeue_stalled() -> int:
    return services.imports_requeue_stalled()


@shared_task(ignore_result=True)
def imports_expire_drafts() -> int:
    return services.imports_expire_drafts()


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def export_run(job_id: str) -> str:
    """Idempotent: a redelivered message writes the whole file again (or finds the job finished)."""
    return exports.export_process(job_id)


@shared_task(ignore_result=True)
def exports_requeue_stalled() -> int:
    return exports.exports_requeue_stalled()


@shared_task(ignore_result=True)
def exports_prune() -> int:
    return exports.exports_prune()

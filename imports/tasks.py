"""Celery tasks of imports: run (or resume) a job, and re-queue jobs whose worker died."""

from celery import shared_task

from imports import services


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def import_run(job_id: str) -> str:
    """Idempotent: a redelivered or duplicated message resumes the job after its checkpoint (or
    finds it running under another worker's lock, or finished, and returns)."""
    return services.import_process(job_id)


@shared_task(ignore_result=True)
def imports_requeue_stalled() -> int:
    return services.imports_requeue_stalled()

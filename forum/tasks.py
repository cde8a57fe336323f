from __future__ import annotations

from celery import shared_task

from . import importing


@shared_task(name="forum.import_legacy")
def import_legacy(job_id: int) -> None:
    importing.run_import_job(job_id=job_id)


@shared_task(name="forum.sweep_import_jobs")
def sweep_import_jobs() -> None:
    """Every minute (beat): hand jobs no worker is on to a worker again."""
    for job_id in importing.jobs_to_resume():
        import_legacy.delay(job_id)

from __future__ import annotations

from celery import shared_task

from . import importing


@shared_task(name="forum.import_legacy")
def import_legacy(job_id: int) -> None:
    importing.run_import_job(job_id=job_id)

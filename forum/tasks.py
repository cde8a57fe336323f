from __future__ import annotations

from celery import shared_task

from . import events, importing


@shared_task(name="forum.import_legacy")
def import_legacy(job_id: int) -> None:
    importing.run_import_job(job_id=job_id)


@shared_task(name="forum.sweep_import_jobs")
def sweep_import_jobs() -> None:
    """Every minute (beat): hand jobs no worker is on to a worker again."""
    for job_id in importing.jobs_to_resume():
        import_legacy.delay(job_id)


@shared_task(name=events.TASK, bind=True, max_retries=5)
def dispatch_event(self, event_id: int) -> None:
    try:
        events.dispatch(event_id=event_id)
    except Exception as exc:
        # In-process (no broker) the error propagates; with a worker, try again shortly (and
        # the sweeper after that).
        if self.request.is_eager:
            raise
        raise self.retry(exc=exc, countdown=30) from exc


@shared_task(name="forum.sweep_events")
def sweep_events() -> None:
    """Every minute (beat): dispatch events whose task was lost; forget old dispatched ones."""
    for event_id in events.undispatched():
        dispatch_event.delay(event_id)
    events.purge_dispatched()

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="notifications.send_email", bind=True, max_retries=services.MAX_ATTEMPTS)
def send_email(self, email_id: int) -> None:
    result = services.deliver_email(email_id=email_id)
    # Run in-process (no broker), a failed send waits for the sweeper instead of retrying now.
    if result.retry_in is not None and not self.request.is_eager:
        raise self.retry(countdown=result.retry_in)


@shared_task(name="notifications.sweep_pending_emails")
def sweep_pending_emails() -> None:
    services.sweep_pending_emails()


@shared_task(name="notifications.send_digests")
def send_digests() -> None:
    services.send_digests()

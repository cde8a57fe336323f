from __future__ import annotations

from celery import shared_task
from django.core.mail import EmailMultiAlternatives


@shared_task(
    name="accounts.send_account_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=6,
)
def send_account_email(
    *, subject: str, body: str, from_email: str, to: list[str], html: str | None = None
) -> None:
    """Send an account email (verification, password reset…) rendered by the adapter.

    The message is rendered in the request (allauth's templates need the request and site) and
    only the sending, which talks to the network, happens here.
    """
    message = EmailMultiAlternatives(subject, body, from_email, to)
    if html:
        message.attach_alternative(html, "text/html")
    message.send()

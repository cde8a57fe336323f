"""Account emails (verification, password reset, …) go out through the notification outbox.

allauth renders them in the request (its templates need the request and the site); the
rendered message becomes an `OutgoingEmail` row in the request's transaction and is sent by the
worker like every other email: after the commit, retried with backoff, swept up when the broker
was down. So a sign-up never fails because the broker or the mail server does, and its email is
not lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from accounts.adapters import AccountAdapter as BaseAccountAdapter
from accounts.models import User

from . import services


@dataclass(frozen=True)
class SiteIdentity:
    """What allauth's email templates say of the site ("Hello from {name}!", "on {domain}"):
    from the settings, so a Site row left as "example.com" can't put a wrong name in them."""

    name: str
    domain: str


def site_identity() -> SiteIdentity:
    return SiteIdentity(name=settings.SITE_NAME, domain=urlsplit(settings.SITE_URL).netloc)


class AccountAdapter(BaseAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        context = {"email": email, **context, "current_site": site_identity()}
        message = self.render_mail(template_prefix, email, context)
        html = next(
            (
                content
                for content, mimetype in getattr(message, "alternatives", [])
                if mimetype == "text/html"
            ),
            None,
        )
        user = context.get("user")
        services.queue_account_email(
            recipient=user if isinstance(user, User) and user.pk else None,
            to=email,
            subject=message.subject,
            body_text=message.body,
            body_html=html or "",
        )

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.db import transaction
from django.utils.translation import get_language

from .tasks import send_account_email


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request, user, form, commit=True):
        # The display name must be set before the first save: it is unique and not empty.
        user.display_name = form.cleaned_data["display_name"]
        # Emails to this person go out in the language they signed up in.
        user.language = get_language() or ""
        return super().save_user(request, user, form, commit=commit)

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        message = self.render_mail(template_prefix, email, context)
        html = next(
            (
                content
                for content, mimetype in getattr(message, "alternatives", [])
                if mimetype == "text/html"
            ),
            None,
        )
        kwargs = {
            "subject": message.subject,
            "body": message.body,
            "from_email": message.from_email,
            "to": list(message.to),
            "html": html,
        }
        # Sent by a Celery task once the transaction that asked for it has committed.
        transaction.on_commit(lambda: send_account_email.delay(**kwargs))

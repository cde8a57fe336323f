from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter
from django.utils.translation import get_language

from .ratelimit import client_ip


class AccountAdapter(DefaultAccountAdapter):
    """Sign-up details, and the client's address. How account emails are sent is
    `notifications.adapters` (the outbox lives there; accounts don't depend on it)."""

    def get_client_ip(self, request) -> str:
        # allauth's login, sign-up and reset limits count per address: the site's one rule.
        return client_ip(request)

    def save_user(self, request, user, form, commit=True):
        # The display name must be set before the first save: it is unique and not empty.
        user.display_name = form.cleaned_data["display_name"]
        # Emails to this person go out in the language they signed up in.
        user.language = get_language() or ""
        return super().save_user(request, user, form, commit=commit)

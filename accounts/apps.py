from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    # Not "Accounts": allauth's app (email addresses) already has that name in the admin.
    verbose_name = _("Users")

    def ready(self):
        from . import signals  # noqa: F401 - connects the receivers

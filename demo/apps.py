from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """`make run`'s demo content and the command that loads it: above every other app, since
    loading it touches them all."""

    name = "demo"
    verbose_name = _("Demo")

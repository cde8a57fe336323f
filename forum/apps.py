from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ForumConfig(AppConfig):
    name = "forum"
    verbose_name = _("Forum")

    def ready(self):
        from . import (
            caching,  # noqa: F401 - connects the receivers that bump cache versions
            tasks,  # noqa: F401 - registers the tasks forum.events enqueues by name
        )

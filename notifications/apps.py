from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")

    def ready(self):
        from forum import pagecache

        from . import (
            receivers,  # noqa: F401 - connects the forum's event receivers
            tasks,  # noqa: F401 - registers the tasks enqueued by name
        )
        from .services import unread_cache_key, unread_count

        # The article page's header shows the bell's count without the forum importing us.
        pagecache.provide_unread_count(
            pagecache.UnreadSource(cache_key=unread_cache_key, count=unread_count)
        )

"""The site's admin: Colloquy's name on it, and the moderation queue at a URL of its own.

The queue is a view of the moderation app's audit-log admin (moderation/admin.py) but is served
at /admin/moderation/queue/: under the audit log's own URL, Django's sidebar marked "Audit log"
as the current page while moderators were on the queue.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig
from django.urls import path
from django.utils.translation import gettext_lazy as _


class ColloquyAdminSite(admin.AdminSite):
    site_header = _("Colloquy administration")
    site_title = _("Colloquy administration")
    index_title = _("Site administration")

    def get_urls(self):
        from moderation.models import ModerationAction

        def queue(name):
            # Resolved per request: the audit log's admin is registered after this site exists.
            def view(request, *args, **kwargs):
                return getattr(self._registry[ModerationAction], name)(request, *args, **kwargs)

            return self.admin_view(view)

        return [
            path("moderation/queue/", queue("queue_view"), name="moderation_queue"),
            path(
                "moderation/queue/<int:pk>/<slug:action>/",
                queue("queue_action_view"),
                name="moderation_queue_act",
            ),
            *super().get_urls(),
        ]


class ColloquyAdminConfig(AdminConfig):
    default_site = "config.admin.ColloquyAdminSite"

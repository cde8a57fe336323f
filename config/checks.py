"""Deploy checks (`manage.py check --deploy`) for traps Django's own checks don't know."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.caches, deploy=True)
def shared_cache(app_configs, **kwargs):
    """Rate limits, the verified-email flag and the page cache live in the cache. With the
    local-memory cache each web process (gunicorn runs several) counts and caches alone: a
    limit of 10 comments a minute becomes 10 per process, and pages go stale per process."""
    backend = settings.CACHES["default"]["BACKEND"]
    if not settings.DEBUG and backend.endswith("LocMemCache"):
        return [
            Error(
                "The cache is local memory: every web process would count rate limits alone.",
                hint="Set REDIS_URL to a Redis shared by every web process.",
                id="colloquy.E001",
            )
        ]
    return []

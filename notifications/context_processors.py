from __future__ import annotations

from django.utils.functional import SimpleLazyObject


def unread_notifications(request):
    """The bell's count, queried only when a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        return user.notifications.filter(read_at__isnull=True).count()

    return {"unread_notifications": SimpleLazyObject(count)}

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from .services import unread_count


def unread_notifications(request):
    """The bell's count, queried only when a template shows it."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}

    def count() -> int:
        return unread_count(user)

    return {"unread_notifications": SimpleLazyObject(count)}

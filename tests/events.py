"""Tests run inside a transaction that never commits, so the forum's events (forum.events) are
recorded but never handed to the worker. `dispatch_events()` does what the worker does after a
commit: it dispatches every event still waiting, oldest first."""

from __future__ import annotations

from forum import events
from forum.models import Event


def dispatch_events() -> int:
    """Dispatch every waiting event; how many were dispatched."""
    ids = (
        Event.objects.filter(dispatched_at__isnull=True).order_by("pk").values_list("pk", flat=True)
    )
    return sum(events.dispatch(event_id=pk) for pk in list(ids))

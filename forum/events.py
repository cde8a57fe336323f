"""What the forum announces, and how it reaches the apps that react: an outbox.

The forum doesn't know who cares that a comment was posted (its followers' notifications, a
moderator's audit log): it says so, and they listen. A write that others react to records an
`Event` row in its own transaction (`record`); once that commits the event is handed to a
Celery task, which sends the event's signal to the receivers the other apps connected in their
`AppConfig.ready()` (notifications, moderation). So the request that posted a comment only
writes two rows, however many people follow the article: finding them, writing their
notifications and rendering their emails happens in the worker.

Invariants:
1. An event is recorded in the transaction of the write it announces: both commit, or neither.
2. `dispatch` runs every receiver and marks the event dispatched in one transaction. If a
   receiver fails, nothing of the dispatch stays and the event is dispatched again later (the
   task's retry, or the sweeper for an event the broker never got): receivers may run again
   for the same event, never after it was marked; what they write is keyed so a partial
   earlier run can't double it (notifications: unique per recipient, kind and comment).
3. An event is dispatched at most once: the row is claimed with `SELECT … FOR UPDATE SKIP
   LOCKED` (PostgreSQL), so two workers given the same event don't both run it.
4. Tasks are enqueued by name (`_enqueue`): the task module imports this one, never the reverse.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import F
from django.dispatch import Signal
from django.utils import timezone

from .enums import EventKind
from .models import Event

log = logging.getLogger(__name__)

# Receivers get `event` (an Event with its comment, article and actor loaded).
SIGNALS = {kind: Signal() for kind in EventKind.values}
comment_posted = SIGNALS[EventKind.COMMENT_POSTED]
comment_mentioned = SIGNALS[EventKind.COMMENT_MENTIONED]
comment_featured = SIGNALS[EventKind.COMMENT_FEATURED]
comment_held = SIGNALS[EventKind.COMMENT_HELD]
article_published = SIGNALS[EventKind.ARTICLE_PUBLISHED]

TASK = "forum.dispatch_event"
# An event still undispatched this long after it was recorded was lost on the way (broker
# down, worker killed): the sweeper hands it out again.
SWEEP_AFTER_SECONDS = 60
MAX_ATTEMPTS = 10
# Dispatched events are kept this long (to look into what was announced), then deleted.
KEEP_DISPATCHED_DAYS = 7


def record(kind: str, *, comment=None, article=None, actor=None, mentioned=()) -> Event:
    """Record that `kind` happened, inside the caller's transaction; announced after commit."""
    event = Event.objects.create(
        kind=kind,
        comment=comment,
        article=article if article is not None else getattr(comment, "article", None),
        actor=actor,
        mentioned=sorted(mentioned),
    )
    transaction.on_commit(lambda: _enqueue(event.pk))
    return event


def _enqueue(event_id: int) -> None:
    """Hand the event to Celery. If the broker is down nothing is lost: the sweeper finds it."""
    from celery import current_app

    try:
        current_app.tasks[TASK].delay(event_id)
    except Exception:  # noqa: BLE001 - any broker failure; the sweeper retries
        log.warning("could not enqueue event %s; the sweeper will retry", event_id, exc_info=True)


def dispatch(*, event_id: int) -> bool:
    """Run the receivers of one event and mark it dispatched, atomically. Returns whether this
    call dispatched it (False: done already, being done by another worker, or given up on)."""
    with transaction.atomic():
        attempts = _claim(event_id)
        if attempts is None:
            return False
        # Counted in a transaction of its own, so that a receiver that keeps failing is given
        # up on (and logged) rather than retried forever.
        Event.objects.filter(pk=event_id).update(attempts=F("attempts") + 1)
    if attempts >= MAX_ATTEMPTS:
        log.error("event %s failed %s times; not dispatched again", event_id, attempts)
        Event.objects.filter(pk=event_id).update(dispatched_at=timezone.now())
        return False
    with transaction.atomic():
        if _claim(event_id) is None:
            return False
        event = Event.objects.select_related(
            "comment__article__column", "comment__parent", "article__column", "actor"
        ).get(pk=event_id)
        SIGNALS[event.kind].send(sender=Event, event=event)
        Event.objects.filter(pk=event_id).update(dispatched_at=timezone.now())
    return True


def _claim(event_id: int) -> int | None:
    """Lock the event if it is still to be dispatched: its attempts so far, or None."""
    claimed = Event.objects.filter(pk=event_id, dispatched_at__isnull=True)
    if connection.features.has_select_for_update_skip_locked:
        claimed = claimed.select_for_update(skip_locked=True)
    return claimed.values_list("attempts", flat=True).first()


def undispatched(*, older_than_seconds: int = SWEEP_AFTER_SECONDS) -> list[int]:
    """Events that should have been dispatched by now, oldest first."""
    since = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        Event.objects.filter(dispatched_at__isnull=True, created_at__lt=since)
        .order_by("created_at")
        .values_list("pk", flat=True)[:1000]
    )


def purge_dispatched(*, older_than_days: int = KEEP_DISPATCHED_DAYS) -> int:
    """Delete events dispatched more than `older_than_days` ago; how many were deleted."""
    since = timezone.now() - timedelta(days=older_than_days)
    deleted, _ = Event.objects.filter(dispatched_at__lt=since).delete()
    return deleted

"""The forum's outbox (forum.events): a write records its event in its own transaction, and
the fan-out (finding who to tell, writing their notifications and emails) happens after the
commit, in the worker, exactly once however often the worker is given it."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from kombu.exceptions import OperationalError

from forum import events, services, tasks
from forum.enums import EventKind
from forum.models import Event, Follow
from notifications.enums import Kind
from notifications.models import Notification, OutgoingEmail
from tests.events import dispatch_events
from tests.factories import CommentFactory, UserFactory

pytestmark = pytest.mark.django_db


def followers(article, n: int) -> list:
    people = UserFactory.create_batch(n)
    Follow.objects.bulk_create(Follow(user=p, article=article) for p in people)
    return people


def post_queries(article, author) -> int:
    with CaptureQueriesContext(connection) as queries:
        services.post_comment(article=article, author=author, body="A new thought")
    return len(queries)


def test_posting_costs_the_same_with_fifty_followers_as_with_none(article, reader, other_reader):
    alone = post_queries(article, reader)
    dispatch_events()
    followers(article, 50)

    crowded = post_queries(article, other_reader)

    assert crowded == alone
    # None of the fifty has been told yet: that is the worker's part, after the commit.
    assert Notification.objects.filter(kind=Kind.FOLLOWED_THREAD).count() == 0
    assert OutgoingEmail.objects.filter(kind=Kind.FOLLOWED_THREAD).count() == 0
    assert Event.objects.filter(kind=EventKind.COMMENT_POSTED, dispatched_at=None).count() == 1
    dispatch_events()
    assert Notification.objects.filter(kind=Kind.FOLLOWED_THREAD).count() == 50


def test_a_dispatch_given_twice_tells_everyone_once(article, reader):
    people = followers(article, 3)
    comment = services.post_comment(article=article, author=reader, body="Once")
    event = Event.objects.get(comment=comment)

    assert events.dispatch(event_id=event.pk) is True
    assert events.dispatch(event_id=event.pk) is False  # a retried or duplicated task

    told = Notification.objects.filter(comment=comment, kind=Kind.FOLLOWED_THREAD)
    assert sorted(n.recipient_id for n in told) == sorted(p.pk for p in people)
    assert Notification.objects.filter(comment=comment).count() == 4  # and the column's author
    event.refresh_from_db()
    assert event.dispatched_at is not None and event.attempts == 1


def test_a_receiver_that_fails_leaves_nothing_and_the_retry_tells_everyone_once(article, reader):
    followers(article, 4)
    comment = services.post_comment(article=article, author=reader, body="Retry me")
    event = Event.objects.get(comment=comment)
    calls = []

    def fail_after_the_notifications(sender, event, **kwargs):
        calls.append(event.pk)
        assert Notification.objects.filter(comment=comment).count() == 5  # written, then…
        raise RuntimeError("the worker died half-way")

    events.comment_posted.connect(fail_after_the_notifications, dispatch_uid="test-fail")
    try:
        with pytest.raises(RuntimeError):
            events.dispatch(event_id=event.pk)
    finally:
        events.comment_posted.disconnect(dispatch_uid="test-fail")

    assert calls == [event.pk]
    assert Notification.objects.filter(comment=comment).count() == 0  # …rolled back
    event.refresh_from_db()
    assert (event.dispatched_at, event.attempts) == (None, 1)

    assert events.dispatch(event_id=event.pk) is True
    assert Notification.objects.filter(comment=comment).count() == 5  # 4 followers, the author


def test_an_event_that_keeps_failing_is_given_up_after_the_last_attempt(article, reader, caplog):
    comment = services.post_comment(article=article, author=reader, body="Doomed")
    event = Event.objects.get(comment=comment)
    Event.objects.filter(pk=event.pk).update(attempts=events.MAX_ATTEMPTS)

    assert events.dispatch(event_id=event.pk) is False

    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert f"event {event.pk} failed" in caplog.text


def test_a_broker_that_is_down_loses_nothing_and_the_sweeper_dispatches_later(
    article, reader, other_reader, django_capture_on_commit_callbacks, caplog
):
    root = CommentFactory(article=article, author=reader)
    dispatch_events()
    with (
        mock.patch.object(tasks.dispatch_event, "delay", side_effect=OperationalError("down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        reply = services.post_comment(
            article=article, author=other_reader, body="Lost on the way", parent=root
        )
    assert "the sweeper will retry" in caplog.text
    assert not Notification.objects.filter(comment=reply).exists()

    tasks.sweep_events()  # too recent: the task may still be on its way
    assert not Notification.objects.filter(comment=reply).exists()

    Event.objects.filter(comment=reply).update(created_at=timezone.now() - timedelta(minutes=2))
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep_events()

    assert Notification.objects.get(comment=reply).recipient == reader
    assert Event.objects.get(comment=reply).dispatched_at is not None


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda c, by: services.set_comment_featured(comment=c, featured=True, by=by), "featured"),
        (lambda c, by: services.edit_comment(comment=c, body="Now @mentioned_one"), "mention"),
    ],
    ids=["feature", "edit-mention"],
)
def test_every_announcement_reaches_notifications_only_after_dispatch(
    article, reader, column_author, make, kind
):
    UserFactory(display_name="mentioned_one")
    comment = CommentFactory(article=article, author=reader, body="Plain")
    dispatch_events()

    make(comment, column_author)
    before = Notification.objects.filter(kind=kind).count()
    dispatch_events()

    assert before == 0
    assert Notification.objects.filter(kind=kind).count() == 1


def test_a_new_chapter_is_announced_to_the_columns_followers(column, column_author, reader):
    Follow.objects.create(user=reader, column=column)

    chapter = services.publish_article(column=column, title="Chapter two", body_md="Text")

    assert not Notification.objects.filter(article=chapter).exists()
    dispatch_events()
    assert Notification.objects.get(article=chapter).kind == Kind.NEW_CHAPTER


def test_the_sweeper_forgets_events_dispatched_a_week_ago_and_keeps_the_rest(article, reader):
    old, recent, waiting = (
        services.post_comment(article=article, author=reader, body=f"#{n}") for n in range(3)
    )
    dispatch_events()
    week_ago = timezone.now() - timedelta(days=events.KEEP_DISPATCHED_DAYS, minutes=1)
    Event.objects.filter(comment=old).update(dispatched_at=week_ago)
    Event.objects.filter(comment=waiting).update(dispatched_at=None, created_at=timezone.now())

    tasks.sweep_events()

    assert not Event.objects.filter(comment=old).exists()
    assert Event.objects.filter(comment=recent).exists()
    assert Event.objects.get(comment=waiting).dispatched_at is None  # too recent to sweep

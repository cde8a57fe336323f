"""moderation.services: each action writes exactly one audit row (ModerationAction) saying who
did what to which comment or user, why, and the state before and after — in the same
transaction as the change, so an action that fails leaves neither the change nor the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import BANNED_YEAR
from forum import services as forum_services
from forum.enums import CommentStatus
from forum.models import Comment
from moderation import services
from moderation.enums import Action
from moderation.models import ModerationAction, Report
from notifications.enums import Kind
from notifications.models import Notification
from tests.factories import CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

REASON = "Breaks rule 3"
UNTIL = timezone.now().replace(microsecond=0) + timedelta(days=3)
EARLIER = timezone.now().replace(microsecond=0) + timedelta(days=1)
BAN_END = timezone.make_aware(datetime(BANNED_YEAR, 12, 31))


@pytest.fixture
def comment(article, reader):
    return CommentFactory(article=article, author=reader, body="Pods are the unit.")


def trusted(name: str):
    return UserFactory(display_name=name, date_joined=timezone.now() - timedelta(days=10))


def set_status(comment: Comment, status: str) -> Comment:
    """Put a comment in a starting state without going through moderation (no audit row)."""
    if status != CommentStatus.VISIBLE:
        forum_services.set_comment_status(comment, status)
    return Comment.objects.get(pk=comment.pk)


# --- One audit row per action --------------------------------------------------------------


@dataclass(frozen=True)
class CommentCase:
    service: str
    start: str
    action: str
    end: str

    def __str__(self) -> str:
        return f"{self.service}-from-{self.start}"


COMMENT_CASES = [
    CommentCase("hide_comment", CommentStatus.VISIBLE, Action.HIDE, CommentStatus.HIDDEN),
    CommentCase("hide_comment", CommentStatus.HELD, Action.HIDE, CommentStatus.HIDDEN),
    CommentCase("remove_comment", CommentStatus.VISIBLE, Action.REMOVE, CommentStatus.REMOVED),
    CommentCase("remove_comment", CommentStatus.HIDDEN, Action.REMOVE, CommentStatus.REMOVED),
    CommentCase("restore_comment", CommentStatus.HIDDEN, Action.RESTORE, CommentStatus.VISIBLE),
    CommentCase("restore_comment", CommentStatus.HELD, Action.APPROVE, CommentStatus.VISIBLE),
    CommentCase("approve_comment", CommentStatus.VISIBLE, Action.APPROVE, CommentStatus.VISIBLE),
    CommentCase("approve_comment", CommentStatus.HELD, Action.APPROVE, CommentStatus.VISIBLE),
    CommentCase("approve_comment", CommentStatus.HIDDEN, Action.RESTORE, CommentStatus.VISIBLE),
]


@pytest.mark.parametrize("case", COMMENT_CASES, ids=str)
def test_each_comment_action_writes_exactly_one_audit_row(case, comment, moderator, article):
    target = set_status(comment, case.start)
    open_report = Report.objects.create(comment=target, reporter=UserFactory(), reason="spam")

    getattr(services, case.service)(comment=target, by=moderator, reason=REASON)

    audit = ModerationAction.objects.get()
    assert audit.moderator == moderator
    assert audit.action == case.action
    assert audit.comment == comment
    assert audit.user == comment.author  # the comment's author is the user acted on
    assert audit.reason == REASON
    assert (audit.before, audit.after) == (case.start, case.end)
    assert Comment.objects.get(pk=comment.pk).status == case.end
    open_report.refresh_from_db()
    assert open_report.resolved_at is not None  # a decision closes the reports
    article.refresh_from_db()
    assert article.comment_count == (1 if case.end == CommentStatus.VISIBLE else 0)


@pytest.mark.parametrize("service", ["hide_comment", "remove_comment"])
def test_hiding_or_removing_tells_the_author_why(service, comment, moderator):
    getattr(services, service)(comment=comment, by=moderator, reason=REASON)

    told = Notification.objects.get(kind=Kind.MODERATED)
    assert (told.recipient, told.kind, told.actor, told.comment, told.reason) == (
        comment.author,
        Kind.MODERATED,
        moderator,
        comment,
        REASON,
    )


@dataclass(frozen=True)
class UserCase:
    name: str
    suspended_until: datetime | None
    action: str
    before: str
    after: str

    def __str__(self) -> str:
        return self.name


def instant(iso: str) -> datetime | None:
    return datetime.fromisoformat(iso) if iso else None


def suspend(user, by):
    return services.suspend_user(user=user, by=by, until=UNTIL, reason=REASON)


def ban(user, by):
    return services.ban_user(user=user, by=by, reason=REASON)


def lift(user, by):
    return services.lift_suspension(user=user, by=by, reason=REASON)


USER_CASES = [
    (suspend, UserCase("suspend", None, Action.SUSPEND, "", UNTIL.isoformat())),
    (
        suspend,
        UserCase("suspend-again", EARLIER, Action.SUSPEND, EARLIER.isoformat(), UNTIL.isoformat()),
    ),
    (ban, UserCase("ban", None, Action.BAN, "", BAN_END.isoformat())),
    (ban, UserCase("ban-suspended", EARLIER, Action.BAN, EARLIER.isoformat(), BAN_END.isoformat())),
    (lift, UserCase("lift", UNTIL, Action.LIFT, UNTIL.isoformat(), "")),
    (lift, UserCase("lift-ban", BAN_END, Action.LIFT, BAN_END.isoformat(), "")),
]


@pytest.mark.parametrize(("act", "case"), USER_CASES, ids=[str(case) for _, case in USER_CASES])
def test_each_user_action_writes_exactly_one_audit_row(act, case, reader, moderator):
    type(reader).objects.filter(pk=reader.pk).update(suspended_until=case.suspended_until)
    reader.refresh_from_db()

    act(reader, moderator)

    audit = ModerationAction.objects.get()
    assert (audit.moderator, audit.action, audit.user, audit.comment) == (
        moderator,
        case.action,
        reader,
        None,
    )
    assert audit.reason == REASON
    # The same instants (a datetime read back from the database is in UTC).
    assert instant(audit.before) == instant(case.before)
    assert instant(audit.after) == instant(case.after)
    reader.refresh_from_db()
    if case.action == Action.LIFT:
        assert (reader.suspended_until, reader.suspension_reason) == (None, "")
        assert not reader.is_suspended
    else:
        assert reader.suspension_reason == REASON
        assert reader.is_suspended
        assert reader.is_banned == (case.action == Action.BAN)


def test_suspending_with_hide_comments_writes_one_row_for_the_user(
    reader, moderator, article, comment
):
    CommentFactory(article=article, author=reader, body="Another one")

    services.suspend_user(user=reader, by=moderator, until=UNTIL, hide_comments=True)

    assert ModerationAction.objects.get().action == Action.SUSPEND
    assert set(Comment.objects.values_list("status", flat=True)) == {CommentStatus.HIDDEN}
    article.refresh_from_db()
    assert article.comment_count == 0


# --- Nothing is written when an action fails ----------------------------------------------


def comment_call(service: str):
    return lambda comment, user, by: getattr(services, service)(
        comment=comment, by=by, reason=REASON
    )


FAILING = [
    ("hide_comment", CommentStatus.VISIBLE, comment_call("hide_comment")),
    ("remove_comment", CommentStatus.VISIBLE, comment_call("remove_comment")),
    ("restore_comment", CommentStatus.HIDDEN, comment_call("restore_comment")),
    ("restore_comment-held", CommentStatus.HELD, comment_call("restore_comment")),
    ("approve_comment", CommentStatus.VISIBLE, comment_call("approve_comment")),
    ("approve_comment-held", CommentStatus.HELD, comment_call("approve_comment")),
    ("suspend_user", None, lambda comment, user, by: suspend(user, by)),
    (
        "suspend_user-hide_comments",
        None,
        lambda comment, user, by: services.suspend_user(
            user=user, by=by, until=UNTIL, hide_comments=True
        ),
    ),
    ("ban_user", None, lambda comment, user, by: ban(user, by)),
    ("lift_suspension", None, lambda comment, user, by: lift(user, by)),
]


@pytest.mark.parametrize(("name", "start", "call"), FAILING, ids=[f[0] for f in FAILING])
def test_an_action_that_fails_after_writing_its_row_leaves_nothing_behind(
    monkeypatch, name, start, call, comment, reader, moderator, article
):
    """The audit row is written, then the action fails: the row and the change roll back."""
    target = set_status(comment, start or CommentStatus.VISIBLE)
    if name.startswith("lift"):
        type(reader).objects.filter(pk=reader.pk).update(suspended_until=UNTIL)
        reader.refresh_from_db()
    article.refresh_from_db()
    count_before = article.comment_count
    user_before = (reader.suspended_until, reader.suspension_reason)
    notifications_before = Notification.objects.count()
    audit = services._audit

    def audit_then_fail(**kwargs):
        audit(**kwargs)
        raise RuntimeError("the database went away")

    monkeypatch.setattr(services, "_audit", audit_then_fail)

    with pytest.raises(RuntimeError):
        call(target, reader, moderator)

    assert not ModerationAction.objects.exists()
    assert Comment.objects.get(pk=comment.pk).status == (start or CommentStatus.VISIBLE)
    reader.refresh_from_db()
    assert (reader.suspended_until, reader.suspension_reason) == user_before
    article.refresh_from_db()
    assert article.comment_count == count_before
    assert Notification.objects.count() == notifications_before


def test_a_hide_whose_notification_fails_is_not_recorded(monkeypatch, comment, moderator, article):
    def fail(**kwargs):
        raise RuntimeError("notification failed")

    monkeypatch.setattr(services.notifications, "notify_comment_moderated", fail)

    with pytest.raises(RuntimeError):
        services.hide_comment(comment=comment, by=moderator, reason=REASON)

    assert not ModerationAction.objects.exists()
    assert Comment.objects.get(pk=comment.pk).status == CommentStatus.VISIBLE
    article.refresh_from_db()
    assert article.comment_count == 1


# --- Reports ---------------------------------------------------------------------------------


def test_reporting_twice_raises_already_reported_and_keeps_one_report(comment, other_reader):
    services.report_comment(comment=comment, reporter=other_reader, reason="spam")

    with pytest.raises(services.AlreadyReported):
        services.report_comment(comment=comment, reporter=other_reader, reason="abuse")

    # The failed insert was rolled back to its savepoint: the transaction is still usable.
    assert list(Report.objects.values_list("reporter", "reason")) == [(other_reader.pk, "spam")]
    assert not ModerationAction.objects.exists()


def test_a_report_with_an_unknown_reason_raises_and_writes_nothing(comment, other_reader):
    with pytest.raises(ValueError):
        services.report_comment(comment=comment, reporter=other_reader, reason="boring")

    assert not Report.objects.exists()
    assert not ModerationAction.objects.exists()


def test_reports_below_the_threshold_write_no_audit_row(comment):
    for n in range(2):
        services.report_comment(comment=comment, reporter=trusted(f"v{n}"), reason="spam")

    assert Report.objects.count() == 2
    assert not ModerationAction.objects.exists()
    assert Comment.objects.get(pk=comment.pk).status == CommentStatus.VISIBLE


def test_the_report_that_reaches_the_threshold_writes_one_hold_row(comment, article):
    for n in range(3):
        services.report_comment(
            comment=Comment.objects.get(pk=comment.pk), reporter=trusted(f"v{n}"), reason="spam"
        )

    hold = ModerationAction.objects.get()
    assert (hold.moderator, hold.action, hold.comment, hold.user) == (
        None,
        Action.HOLD,
        comment,
        comment.author,
    )
    assert (hold.reason, hold.before, hold.after) == ("3 reports", "visible", "held")
    assert Comment.objects.get(pk=comment.pk).status == CommentStatus.HELD
    article.refresh_from_db()
    assert article.comment_count == 0


def test_more_reports_on_a_held_comment_write_no_more_rows(comment):
    for n in range(5):
        services.report_comment(
            comment=Comment.objects.get(pk=comment.pk), reporter=trusted(f"v{n}"), reason="spam"
        )

    assert ModerationAction.objects.count() == 1
    assert Report.objects.count() == 5


def test_an_approved_comment_starts_counting_reports_again(comment, moderator):
    for n in range(3):
        services.report_comment(
            comment=Comment.objects.get(pk=comment.pk), reporter=trusted(f"v{n}"), reason="spam"
        )
    services.approve_comment(comment=Comment.objects.get(pk=comment.pk), by=moderator)

    services.report_comment(
        comment=Comment.objects.get(pk=comment.pk), reporter=trusted("late"), reason="spam"
    )

    assert Comment.objects.get(pk=comment.pk).status == CommentStatus.VISIBLE
    assert [a.action for a in ModerationAction.objects.order_by("id")] == [
        Action.HOLD,
        Action.APPROVE,
    ]
    assert Report.objects.filter(resolved_at__isnull=True).count() == 1


def test_reports_on_a_hidden_comment_never_hold_it(comment, moderator):
    hidden = services.hide_comment(comment=comment, by=moderator)
    for n in range(3):
        services.report_comment(comment=hidden, reporter=trusted(f"v{n}"), reason="spam")

    assert Comment.objects.get(pk=comment.pk).status == CommentStatus.HIDDEN
    assert ModerationAction.objects.count() == 1  # the hide


# --- Two decisions at once -----------------------------------------------------------------


def test_two_moderators_deciding_at_once_move_the_counters_once(
    comment, moderator, admin_user, article
):
    CommentFactory(parent=comment, body="A reply")
    reply = Comment.objects.get(parent=comment)
    seen_by_first = Comment.objects.get(pk=reply.pk)
    seen_by_second = Comment.objects.get(pk=reply.pk)  # both read it while it was visible

    services.hide_comment(comment=seen_by_first, by=moderator, reason="rude")
    services.remove_comment(comment=seen_by_second, by=admin_user, reason="rude")

    assert forum_services.recount_counters(fix=False) == []
    assert ModerationAction.objects.first().before == CommentStatus.HIDDEN

"""Moderation actions. Each writes exactly one audit row (ModerationAction) for its target."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import BANNED_YEAR, User
from forum import services as forum_services
from forum.enums import CommentStatus
from forum.models import Comment
from notifications import services as notifications

from .enums import Action, ReportReason
from .models import ModerationAction, Report


def _audit(
    *, by: User | None, action: str, comment=None, user=None, reason="", before="", after=""
):
    return ModerationAction.objects.create(
        moderator=by,
        action=action,
        comment=comment,
        user=user if user is not None else (comment.author if comment is not None else None),
        reason=reason,
        before=before,
        after=after,
    )


def _resolve_reports(comment: Comment) -> None:
    Report.objects.filter(comment=comment, resolved_at__isnull=True).update(
        resolved_at=timezone.now()
    )


MODERATED_FROM = {
    Action.HIDE: {CommentStatus.VISIBLE, CommentStatus.HELD},
    Action.REMOVE: {CommentStatus.VISIBLE, CommentStatus.HELD, CommentStatus.HIDDEN},
    Action.RESTORE: {CommentStatus.HIDDEN, CommentStatus.HELD},
}


def _change(comment: Comment, *, to: str, action: str, by: User, reason: str) -> str | None:
    """Move the comment to `to` (if its current state allows), close its reports, audit it."""
    before = forum_services.set_comment_status(comment, to, only_from=MODERATED_FROM[action])
    if before is None:
        return None  # already decided (by someone else, at the same moment): nothing to record
    _resolve_reports(comment)
    if action == Action.RESTORE and before == CommentStatus.HELD:
        action = Action.APPROVE
    _audit(by=by, action=action, comment=comment, reason=reason, before=before, after=to)
    return before


@transaction.atomic
def hide_comment(*, comment: Comment, by: User, reason: str = "") -> Comment:
    if _change(comment, to=CommentStatus.HIDDEN, action=Action.HIDE, by=by, reason=reason):
        notifications.notify_comment_moderated(comment=comment, by=by, reason=reason)
    return comment


@transaction.atomic
def remove_comment(*, comment: Comment, by: User, reason: str = "") -> Comment:
    if _change(comment, to=CommentStatus.REMOVED, action=Action.REMOVE, by=by, reason=reason):
        notifications.notify_comment_moderated(comment=comment, by=by, reason=reason)
    return comment


@transaction.atomic
def restore_comment(*, comment: Comment, by: User, reason: str = "") -> Comment:
    """Hidden or held → visible again (a held comment's notifications go out now). A comment
    its own author deleted stays deleted."""
    before = _change(comment, to=CommentStatus.VISIBLE, action=Action.RESTORE, by=by, reason=reason)
    if before == CommentStatus.HELD:
        notifications.notify_comment_approved(comment=comment, by=by)
        forum_services.announce_comment_shown(comment=comment)
    return comment


@transaction.atomic
def approve_comment(*, comment: Comment, by: User, reason: str = "") -> Comment:
    """Keep a reported or held comment: it stays (or becomes) visible; the reports close."""
    if comment.status != CommentStatus.VISIBLE:
        return restore_comment(comment=comment, by=by, reason=reason)
    _resolve_reports(comment)
    _audit(
        by=by,
        action=Action.APPROVE,
        comment=comment,
        reason=reason,
        before=comment.status,
        after=comment.status,
    )
    return comment


@transaction.atomic
def suspend_user(
    *, user: User, by: User, until: datetime, reason: str = "", hide_comments: bool = False
) -> User:
    before = user.suspended_until.isoformat() if user.suspended_until else ""
    user.suspended_until = until
    user.suspension_reason = reason
    user.save(update_fields=["suspended_until", "suspension_reason"])
    action = Action.BAN if until.year >= BANNED_YEAR else Action.SUSPEND
    _audit(by=by, action=action, user=user, reason=reason, before=before, after=until.isoformat())
    if hide_comments:
        for comment in Comment.objects.filter(author=user, status=CommentStatus.VISIBLE):
            forum_services.set_comment_status(comment, CommentStatus.HIDDEN)
    return user


def ban_user(*, user: User, by: User, reason: str = "", hide_comments: bool = False) -> User:
    until = timezone.make_aware(datetime(BANNED_YEAR, 12, 31))
    return suspend_user(user=user, by=by, until=until, reason=reason, hide_comments=hide_comments)


@transaction.atomic
def lift_suspension(*, user: User, by: User, reason: str = "") -> User:
    before = user.suspended_until.isoformat() if user.suspended_until else ""
    user.suspended_until = None
    user.suspension_reason = ""
    user.save(update_fields=["suspended_until", "suspension_reason"])
    _audit(by=by, action=Action.LIFT, user=user, reason=reason, before=before, after="")
    return user


class AlreadyReported(Exception):
    pass


@transaction.atomic
def report_comment(*, comment: Comment, reporter: User, reason: str, text: str = "") -> Report:
    """File a report; enough reports from distinct trusted readers hide the comment for review."""
    try:
        with transaction.atomic():
            report = Report.objects.create(
                comment=comment, reporter=reporter, reason=ReportReason(reason), text=text
            )
    except IntegrityError as exc:
        raise AlreadyReported from exc
    trusted_since = timezone.now() - timedelta(days=settings.TRUSTED_AFTER_DAYS)
    trusted = (
        Report.objects.filter(comment=comment, resolved_at__isnull=True)
        .filter(Q(reporter__date_joined__lte=trusted_since) | Q(reporter__is_staff=True))
        .values("reporter")
        .distinct()
        .count()
    )
    if trusted >= settings.REPORTS_TO_HIDE and forum_services.set_comment_status(
        comment, CommentStatus.HELD, only_from={CommentStatus.VISIBLE}
    ):
        _audit(
            by=None,
            action=Action.HOLD,
            comment=comment,
            reason=f"{trusted} reports",
            before=CommentStatus.VISIBLE,
            after=CommentStatus.HELD,
        )
    return report

"""Read-only queries of the moderation desk: the queue and the history around each item.

Every function returns a queryset whose cost does not grow with the number of rows shown: the
author's history is annotated with subqueries and the open reports are prefetched in one query.
"""

from __future__ import annotations

from django.db.models import (
    Count,
    DateTimeField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from forum.enums import CommentStatus
from forum.models import Comment

from .enums import Action
from .models import ModerationAction, Report

# Which comments wait for a moderator.
REPORTED = "reported"
HELD = "held"
KINDS = (REPORTED, HELD)

# What counts against an author in their history.
SANCTIONS = (Action.HIDE, Action.REMOVE, Action.SUSPEND, Action.BAN)

# A reported comment waits while it is still shown (or held); one already hidden (e.g. with its
# author's suspension) or removed has nothing left to decide.
_OPEN_STATUSES = (CommentStatus.VISIBLE, CommentStatus.HELD)


def _has_open_reports() -> Q:
    return Q(
        pk__in=Report.objects.filter(resolved_at__isnull=True).values("comment_id"),
    )


def pending_comments(kind: str | None = None) -> QuerySet[Comment]:
    """Comments that wait for a decision: held for review, or with open reports."""
    held = Q(status=CommentStatus.HELD)
    reported = _has_open_reports() & Q(status__in=_OPEN_STATUSES)
    condition = {REPORTED: reported, HELD: held}.get(kind, held | reported)
    return Comment.objects.filter(condition)


def queue_size() -> int:
    return pending_comments().count()


def _count(queryset: QuerySet, field: str) -> Subquery:
    """A correlated COUNT(*) of `queryset` rows grouped by `field` (0 when there are none)."""
    return Coalesce(
        Subquery(
            queryset.order_by().values(field).annotate(n=Count("*")).values("n")[:1],
            output_field=IntegerField(),
        ),
        Value(0),
    )


def queue(kind: str | None = None) -> QuerySet[Comment]:
    """The queue, oldest first, with everything the queue page shows in a bounded number of
    queries: the article and its column, the parent comment and its author, the author's
    history (comments written, past sanctions), the open reports with
    their reporters, and why a held comment was held."""
    open_reports = Report.objects.filter(resolved_at__isnull=True)
    first_report = (
        open_reports.filter(comment=OuterRef("pk")).order_by("created_at").values("created_at")[:1]
    )
    hold_reason = (
        ModerationAction.objects.filter(comment=OuterRef("pk"), action=Action.HOLD)
        .order_by("-created_at", "-id")
        .values("reason")[:1]
    )
    by_author = Comment.objects.filter(author=OuterRef("author_id"))
    return (
        pending_comments(kind)
        .select_related("author", "article__column", "parent__author")
        .prefetch_related(
            Prefetch(
                "reports",
                queryset=open_reports.select_related("reporter").order_by("created_at", "id"),
                to_attr="open_reports",
            )
        )
        .annotate(
            # In the queue since the first open report, or since it was written (held).
            waiting_since=Coalesce(
                Subquery(first_report, output_field=DateTimeField()), "created_at"
            ),
            hold_reason=Subquery(hold_reason),
            author_comments=_count(by_author, "author"),
            author_sanctions=_count(
                ModerationAction.objects.filter(user=OuterRef("author_id"), action__in=SANCTIONS),
                "user",
            ),
        )
        .order_by("waiting_since", "id")
    )


def has_reported(*, comment: Comment, user) -> bool:
    return Report.objects.filter(comment=comment, reporter=user).exists()

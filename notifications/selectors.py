from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from forum.enums import CommentStatus
from forum.pagination import newest_first
from forum.rendering import plain_excerpt

from .enums import Kind
from .models import Notification

# GitHub's notifications page shows 25 too; every row costs the request, so a page is kept
# short and "Older" goes on.
INBOX_PER_PAGE = 25

# How much of a comment the notifications page quotes (characters of its rendered text).
LIST_EXCERPT_CHARS = 160

_PLACEHOLDER = 987654321  # a pk no URL pattern part can be confused with

# The inbox reads plain values, not model instances: a row is five joined tables' worth of
# fields, and building five models per row (then resolving them in the template) was most of
# the page's cost. What a row shows is worked out here, once per page, not in the template.
_INBOX_FIELDS = (
    "pk",
    "kind",
    "created_at",
    "read_at",
    "reason",
    "actor__display_name",
    "article__title",
    "comment_id",
    "comment__status",
    "comment__body_html",
)


@dataclass(slots=True)
class InboxRow:
    pk: int
    kind: str
    created_at: datetime
    unread: bool
    reason: str
    actor_name: str  # "" when nobody did it (a moderator's decision, say)
    article_title: str  # "" when it isn't about a chapter
    comment: str  # "" when it isn't about a comment; else "shown" or "gone"
    excerpt: str  # the comment's rendered words as plain text, when shown
    kind_label: str = ""
    open_url: str = ""
    read_url: str = ""
    time: str = ""  # HH:MM in the reader's time zone
    iso_time: str = ""


def _inbox_row(values: tuple) -> InboxRow:
    pk, kind, created_at, read_at, reason, actor, title, comment_id, status, body_html = values
    shown = comment_id is not None and status == CommentStatus.VISIBLE
    return InboxRow(
        pk=pk,
        kind=kind,
        created_at=created_at,
        unread=read_at is None,
        reason=reason,
        actor_name=actor or "",
        article_title=title or "",
        comment="" if comment_id is None else ("shown" if shown else "gone"),
        excerpt=plain_excerpt(body_html, LIST_EXCERPT_CHARS) if shown else "",
    )


def inbox(*, user, before: str | None, per_page: int = INBOX_PER_PAGE):
    """(page, days): a page of the person's notifications, newest first, and its rows grouped
    by day in the reader's time zone, newest day first — [(date, [InboxRow, …]), …].
    Raises forum.pagination.BadCursor if `before` is not one of ours."""
    rows = Notification.objects.filter(recipient=user).values_list(*_INBOX_FIELDS)
    page = newest_first(rows, before=before, per_page=per_page, build=_inbox_row)
    # The kind's label (get_kind_display rebuilds the choices each call) and the two links
    # (one reverse() each, then the pk put in the place of a placeholder one): once a page.
    labels = {kind: str(label) for kind, label in Kind.choices}
    open_url = reverse("notifications:open", args=[_PLACEHOLDER]).split(str(_PLACEHOLDER))
    read_url = reverse("notifications:read", args=[_PLACEHOLDER]).split(str(_PLACEHOLDER))
    days: list[tuple] = []
    for row in page.items:
        local = timezone.localtime(row.created_at)
        row.kind_label = labels.get(row.kind, row.kind)
        row.open_url = f"{open_url[0]}{row.pk}{open_url[1]}"
        row.read_url = f"{read_url[0]}{row.pk}{read_url[1]}"
        row.time = local.strftime("%H:%M")
        row.iso_time = local.isoformat()
        if not days or days[-1][0] != local.date():
            days.append((local.date(), []))
        days[-1][1].append(row)
    return page, days


def get_notification(*, user, pk: int):
    """One of the user's own notifications (someone else's is a 404)."""
    return get_object_or_404(
        Notification.objects.select_related("comment", "article__column"), pk=pk, recipient=user
    )

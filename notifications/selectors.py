from __future__ import annotations

from itertools import groupby

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from forum.pagination import HistoryPage, newest_first
from forum.rendering import plain_excerpt

from .enums import Kind
from .models import Notification

# GitHub's notifications page shows 25 too; every row costs the request (a row with its actor,
# comment and chapter, an excerpt, a form), so a page is kept short and "Older" goes on.
INBOX_PER_PAGE = 25


def notifications_page(*, user, before: str | None, per_page: int = INBOX_PER_PAGE) -> HistoryPage:
    """A page of the person's notifications, newest first (forum.pagination.BadCursor if
    `before` is not one of ours)."""
    rows = Notification.objects.filter(recipient=user).select_related(
        "actor", "comment", "article__column"
    )
    return newest_first(rows, before=before, per_page=per_page)


_PLACEHOLDER = 987654321  # a pk no URL pattern part can be confused with

# How much of a comment the notifications page quotes (characters of its rendered text).
LIST_EXCERPT_CHARS = 160


def group_by_day(notifications) -> list[tuple]:
    """[(date, [notification, …]), …] in the reader's time zone, newest day first.

    Each notification gets `excerpt`: its comment's rendered words as plain text (not the
    Markdown source), or "" when there is no comment or it is no longer shown; `kind_label`;
    and `open_url` and `read_url`, its two links.
    """
    # What each row shows, worked out once per page rather than per row in the template: the
    # kind's label (get_kind_display rebuilds the choices each call) and the two links (one
    # reverse() each, then the pk put in the place of a placeholder one).
    labels = {kind: str(label) for kind, label in Kind.choices}
    open_url = reverse("notifications:open", args=[_PLACEHOLDER]).split(str(_PLACEHOLDER))
    read_url = reverse("notifications:read", args=[_PLACEHOLDER]).split(str(_PLACEHOLDER))
    for n in notifications:
        shown = n.comment_id and n.comment.status == "visible"
        n.excerpt = plain_excerpt(n.comment.body_html, LIST_EXCERPT_CHARS) if shown else ""
        n.kind_label = labels.get(n.kind, n.kind)
        n.open_url = f"{open_url[0]}{n.pk}{open_url[1]}"
        n.read_url = f"{read_url[0]}{n.pk}{read_url[1]}"
    return [
        (day, list(items))
        for day, items in groupby(notifications, key=lambda n: timezone.localdate(n.created_at))
    ]


def get_notification(*, user, pk: int):
    """One of the user's own notifications (someone else's is a 404)."""
    return get_object_or_404(
        Notification.objects.select_related("comment", "article__column"), pk=pk, recipient=user
    )

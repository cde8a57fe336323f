from __future__ import annotations

from itertools import groupby

from django.core.paginator import Page, Paginator
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .models import Follow, Notification


def notifications_page(*, user, page: str | int | None, per_page: int = 50) -> Page:
    rows = Notification.objects.filter(recipient=user).select_related(
        "actor", "comment", "article__column"
    )
    return Paginator(rows, per_page).get_page(page)


def group_by_day(notifications) -> list[tuple]:
    """[(date, [notification, …]), …] in the reader's time zone, newest day first."""
    return [
        (day, list(items))
        for day, items in groupby(notifications, key=lambda n: timezone.localdate(n.created_at))
    ]


def follows(*, user, column=None, article=None) -> bool:
    if not user.is_authenticated:
        return False
    lookup = {"column": column} if column is not None else {"article": article}
    return Follow.objects.filter(user=user, **lookup).exists()


def get_notification(*, user, pk: int):
    """One of the user's own notifications (someone else's is a 404)."""
    return get_object_or_404(
        Notification.objects.select_related("comment", "article__column"), pk=pk, recipient=user
    )

"""Spam and abuse rules that decide before a comment is written (they only read).

- A new account's first comments (HOLD_FIRST_COMMENTS_WITH_LINKS) are held for review when they
  contain a link.
- The same text posted again by the same person within DUPLICATE_WINDOW_SECONDS is refused.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from .enums import CommentStatus
from .models import Comment

LINK = re.compile(r"https?://|www\.|\]\(", re.IGNORECASE)


def initial_status(*, author, body: str) -> str:
    if not LINK.search(body):
        return CommentStatus.VISIBLE
    earlier = Comment.objects.filter(author=author, status=CommentStatus.VISIBLE).count()
    if earlier < settings.HOLD_FIRST_COMMENTS_WITH_LINKS and not author.is_staff:
        return CommentStatus.HELD
    return CommentStatus.VISIBLE


def is_duplicate(*, author, body: str) -> bool:
    since = timezone.now() - timedelta(seconds=settings.DUPLICATE_WINDOW_SECONDS)
    return Comment.objects.filter(
        author=author, body_md=body.strip(), created_at__gte=since
    ).exists()

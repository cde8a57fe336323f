"""Every read of forum data for a page: each function owns its query shape."""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import Count, Max, Q
from django.shortcuts import get_object_or_404

from accounts.models import User

from .enums import CommentStatus
from .models import Article, Column, Comment


def list_columns() -> list[Column]:
    return list(
        Column.objects.select_related("author").annotate(
            chapter_count=Count("articles", filter=Q(articles__is_published=True), distinct=True),
            latest_activity=Max("articles__last_commented_at"),
        ).order_by("title")
    )


def list_recently_discussed_articles(*, limit: int = 10) -> list[Article]:
    return list(
        Article.objects.filter(is_published=True, last_commented_at__isnull=False)
        .select_related("column")
        .order_by("-last_commented_at")[:limit]
    )


def get_column(*, slug: str) -> Column:
    column = get_object_or_404(Column.objects.select_related("author"), slug=slug)
    column.chapters = list(
        column.articles.filter(is_published=True)
        .only("id", "title", "slug", "position", "comment_count", "published_at", "column_id")
        .order_by("position")
    )
    return column


def get_article(*, column_slug: str, slug: str) -> Article:
    return get_object_or_404(
        Article.objects.select_related("column", "author"),
        column__slug=column_slug,
        slug=slug,
        is_published=True,
    )


def list_user_comments(*, user: User, page: str | int | None, per_page: int = 20) -> Page:
    comments = (
        Comment.objects.filter(author=user, status=CommentStatus.VISIBLE, article__is_published=True)
        .select_related("article__column")
        .order_by("-created_at", "-id")
    )
    return Paginator(comments, per_page).get_page(page)


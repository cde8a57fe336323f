"""Every write to the forum goes through here: one function per verb, keyword-only, atomic."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User

from .models import Article, Column, Comment, Like, path_segment
from .rendering import render_article_markdown, render_comment_markdown


def unique_slug(*, title: str, taken: set[str], fallback: str) -> str:
    base = slugify(title, allow_unicode=True)[:180] or fallback
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def create_column(*, author: User, title: str, slug: str = "", description: str = "") -> Column:
    taken = set(Column.objects.values_list("slug", flat=True)) if not slug else set()
    slug = slug or unique_slug(title=title, taken=taken, fallback="column")
    return Column.objects.create(author=author, title=title, slug=slug, description=description)


@transaction.atomic
def publish_article(
    *,
    column: Column,
    title: str,
    body_md: str,
    author: User | None = None,
    position: int | None = None,
    slug: str = "",
    published_at=None,
) -> Article:
    siblings = Article.objects.filter(column=column)
    if position is None:
        position = (siblings.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    if not slug:
        slug = unique_slug(
            title=title, taken=set(siblings.values_list("slug", flat=True)), fallback=f"chapter-{position}"
        )
    return Article.objects.create(
        column=column,
        title=title,
        slug=slug,
        position=position,
        author=author or column.author,
        body_md=body_md,
        body_html=render_article_markdown(body_md),
        published_at=published_at or timezone.now(),
    )


@transaction.atomic
def post_comment(
    *,
    article: Article,
    author: User,
    body: str,
    parent: Comment | None = None,
    created_at=None,
) -> Comment:
    """Create a comment (a root when `parent` is None) and keep every counter in step."""
    now = created_at or timezone.now()
    comment = Comment.objects.create(
        article=article,
        author=author,
        parent=parent,
        depth=parent.depth + 1 if parent else 0,
        body_md=body,
        body_html=render_comment_markdown(body),
        created_at=now,
    )
    # The path ends with the comment's own id, known only after the insert.
    comment.root_id = parent.root_id if parent else comment.pk
    comment.path = (parent.path if parent else "") + path_segment(comment.pk)
    Comment.objects.filter(pk=comment.pk).update(root_id=comment.root_id, path=comment.path)
    if parent:
        Comment.objects.filter(pk=parent.pk).update(reply_count=F("reply_count") + 1)
    Article.objects.filter(pk=article.pk).update(
        comment_count=F("comment_count") + 1, last_commented_at=now
    )
    return comment


@transaction.atomic
def toggle_like(*, user: User, comment: Comment | None = None, article: Article | None = None) -> bool:
    """Like the target, or take the like back. Returns whether the user likes it now.

    Insert-or-delete, never read-then-write: the unique constraint decides a race between two
    clicks, and the counter moves only when a row was really inserted or deleted.
    """
    target_model, target = (Comment, comment) if comment is not None else (Article, article)
    lookup = {"comment": comment} if comment is not None else {"article": article}
    deleted, _ = Like.objects.filter(user=user, **lookup).delete()
    if deleted:
        target_model.objects.filter(pk=target.pk).update(like_count=F("like_count") - 1)
        return False
    try:
        with transaction.atomic():
            Like.objects.create(user=user, **lookup)
    except IntegrityError:
        # A concurrent click of the same user inserted it first: it is liked, counted once.
        return True
    target_model.objects.filter(pk=target.pk).update(like_count=F("like_count") + 1)
    return True

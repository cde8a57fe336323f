"""Every write to the forum goes through here: one function per verb, keyword-only, atomic.

Services trust their arguments (views and forms validated them) and keep the denormalized
counters in step with `F()` expressions in the same transaction. Every write that changes what
a discussion looks like bumps the article's `thread_version`, the key of its cached rendering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import User

from . import caching, events, policy
from .enums import CommentStatus, EventKind
from .forms import COMMENT_MAX_LENGTH
from .models import MAX_DEPTH, Article, Column, Comment, CommentRevision, Like, path_segment
from .rendering import find_mentions, render_article_markdown, render_comment_markdown


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
    published_at: datetime | None = None,
) -> Article:
    siblings = Article.objects.filter(column=column)
    if position is None:
        last = siblings.order_by("-position").values_list("position", flat=True).first()
        position = (last or 0) + 1
    if not slug:
        taken = set(siblings.values_list("slug", flat=True))
        slug = unique_slug(title=title, taken=taken, fallback=f"chapter-{position}")
    article = Article.objects.create(
        column=column,
        title=title,
        slug=slug,
        position=position,
        author=author or column.author,
        body_md=body_md,
        body_html=render_article_markdown(body_md),
        published_at=published_at or timezone.now(),
    )
    if article.is_published:
        events.record(EventKind.ARTICLE_PUBLISHED, article=article, actor=article.author)
    return article


@transaction.atomic
def save_article(*, article: Article, was_published: bool) -> Article:
    """An article edited in the admin: render its body, and tell the column's followers when
    it becomes published (a new chapter, or a draft switched on)."""
    article.body_html = render_article_markdown(article.body_md)
    if article.pk:
        article.edited_at = timezone.now()
        article.thread_version += 1  # retires the cached pages that show it
    article.save()
    if article.is_published and not was_published:
        events.record(EventKind.ARTICLE_PUBLISHED, article=article, actor=article.author)
    return article


def render_comment(body: str) -> str:
    """Comment Markdown → sanitized HTML, with @mentions of existing users linked."""
    return render_comment_and_mentions(body)[0]


def render_comment_and_mentions(body: str) -> tuple[str, set[int]]:
    """The rendered comment and the ids of the users its @mentions link to (outside code)."""
    names = find_mentions(body)
    users: dict[str, User] = {}
    if names:
        found = User.objects.annotate(name_lower=Lower("display_name")).filter(
            name_lower__in=[name.lower() for name in names], is_active=True
        )
        users = {user.display_name.lower(): user for user in found}
    linked: set[int] = set()

    def resolve(name: str) -> str | None:  # names past the cap were not looked up: plain text
        user = users.get(name.lower())
        if user is None:
            return None
        linked.add(user.pk)
        return user.get_absolute_url()

    return render_comment_markdown(body, resolve_mention=resolve), linked


def _bump_thread(article_id: int, **changes) -> None:
    caching.discussions_changed([article_id], **changes)


@transaction.atomic
def post_comment(
    *,
    article: Article,
    author: User,
    body: str,
    parent: Comment | None = None,
    created_at: datetime | None = None,
) -> Comment:
    """Create a comment (a root when `parent` is None) and keep every counter in step.

    A reply to a comment at MAX_DEPTH goes beside it instead, under the same parent, and starts
    with an @mention of the person it answers (who is told, as for any mention)."""
    now = created_at or timezone.now()
    if parent is not None and parent.depth >= MAX_DEPTH:
        answered = parent.author.display_name
        parent = parent.parent
        if not re.match(rf"@{re.escape(answered)}(?![\w.\-·])", body, re.IGNORECASE):
            mentioned_body = f"@{answered} {body}"
            body = mentioned_body if len(mentioned_body) <= COMMENT_MAX_LENGTH else body
    body_html, mentioned = render_comment_and_mentions(body)
    status = policy.initial_status(author=author, body=body)
    comment = Comment.objects.create(
        article=article,
        author=author,
        parent=parent,
        depth=parent.depth + 1 if parent else 0,
        body_md=body,
        body_html=body_html,
        created_at=now,
        status=status,
    )
    # The path ends with the comment's own id, known only after the insert.
    comment.root_id = parent.root_id if parent else comment.pk
    comment.path = (parent.path if parent else "") + path_segment(comment.pk)
    Comment.objects.filter(pk=comment.pk).update(root_id=comment.root_id, path=comment.path)
    if status != CommentStatus.VISIBLE:
        # Held for review: not shown, not counted, nobody notified until a moderator approves.
        events.record(EventKind.COMMENT_HELD, comment=comment, actor=author)
        return comment
    if parent:
        Comment.objects.filter(pk=parent.pk).update(reply_count=F("reply_count") + 1)
    _bump_thread(article.pk, comment_count=F("comment_count") + 1, last_commented_at=now)
    events.record(EventKind.COMMENT_POSTED, comment=comment, actor=author, mentioned=mentioned)
    return comment


def announce_comment_shown(*, comment: Comment) -> None:
    """A held comment was approved: announced as if just posted (its replies' authors, the
    people it mentions and the article's followers hear of it now)."""
    _, mentioned = render_comment_and_mentions(comment.body_md)
    events.record(
        EventKind.COMMENT_POSTED, comment=comment, actor=comment.author, mentioned=mentioned
    )


@transaction.atomic
def edit_comment(*, comment: Comment, body: str) -> Comment:
    """Replace a comment's text, keeping the previous version for moderators.

    People the edit mentions for the first time are told, as if the comment had mentioned them
    when it was posted; people it mentioned before are not told again."""
    if body == comment.body_md:
        return comment
    # Only mentions that link count (not ones in code, not unknown names): the old text's are
    # known by rendering it as it was rendered.
    _before, mentioned_before = render_comment_and_mentions(comment.body_md)
    CommentRevision.objects.create(
        comment=comment, body_md=comment.body_md, created_at=comment.edited_at or comment.created_at
    )
    comment.body_md = body
    comment.body_html, mentioned = render_comment_and_mentions(body)
    comment.edited_at = timezone.now()
    comment.save(update_fields=["body_md", "body_html", "edited_at"])
    _bump_thread(comment.article_id)
    if comment.status == CommentStatus.VISIBLE and mentioned - mentioned_before:
        events.record(
            EventKind.COMMENT_MENTIONED,
            comment=comment,
            actor=comment.author,
            mentioned=mentioned - mentioned_before,
        )
    return comment


def set_comment_status(comment: Comment, status: str, *, only_from=None) -> str | None:
    """Change a comment's visibility, keeping the counters of visible comments right.

    Used by the author's delete (here) and by moderation (moderation.services). Returns the
    status it had before, or None when nothing changed: it already had `status`, or (with
    `only_from`) it wasn't in one of those states — decided by the database, so two decisions
    racing on one comment move the counters once.
    """
    before = _set_status(comment, status, only_from=only_from)
    if before is not None:
        _bump_thread(comment.article_id)
    return before


def _set_status(comment: Comment, status: str, *, only_from=None) -> str | None:
    """Change visibility with a conditional UPDATE; move the counters only if it changed."""
    for _attempt in range(3):
        before = Comment.objects.filter(pk=comment.pk).values_list("status", flat=True).first()
        if before is None or before == status or (only_from and before not in only_from):
            comment.status = before or comment.status
            return None
        changes = {"status": status}
        if status != CommentStatus.VISIBLE:
            changes["is_featured"] = False
        if Comment.objects.filter(pk=comment.pk, status=before).update(**changes):
            break
    else:
        return None
    for name, value in changes.items():
        setattr(comment, name, value)
    was_visible, now_visible = before == CommentStatus.VISIBLE, status == CommentStatus.VISIBLE
    if was_visible != now_visible:
        step = 1 if now_visible else -1
        if comment.parent_id:
            Comment.objects.filter(pk=comment.parent_id).update(reply_count=F("reply_count") + step)
        # "Recently discussed" and a column's latest activity follow what readers can see.
        latest_visible = (
            Comment.objects.filter(article_id=OuterRef("pk"), status=CommentStatus.VISIBLE)
            .order_by("-created_at")
            .values("created_at")[:1]
        )
        Article.objects.filter(pk=comment.article_id).update(
            comment_count=F("comment_count") + step, last_commented_at=Subquery(latest_visible)
        )
    return before


@transaction.atomic
def delete_comment(*, comment: Comment) -> Comment:
    """The author deletes their comment: it leaves the page, or leaves a "[deleted]" tombstone
    when replies hang from it. The row stays (moderators can still see what was said)."""
    _set_status(comment, CommentStatus.REMOVED)
    _bump_thread(comment.article_id)
    return comment


@transaction.atomic
def set_comment_featured(*, comment: Comment, featured: bool, by: User | None = None) -> Comment:
    if comment.is_featured != featured:
        comment.is_featured = featured
        comment.save(update_fields=["is_featured"])
        _bump_thread(comment.article_id)
        if featured:
            events.record(EventKind.COMMENT_FEATURED, comment=comment, actor=by)
    return comment


@transaction.atomic
def toggle_like(
    *, user: User, comment: Comment | None = None, article: Article | None = None
) -> bool:
    """Like the target, or take the like back. Returns whether the user likes it now.

    Insert-or-delete, never read-then-write: the unique constraint decides a race between two
    clicks, and the counter moves only when a row was really inserted or deleted.
    """
    if comment is not None:
        model, target, lookup = Comment, comment, {"comment": comment}
        article_id = comment.article_id
    else:
        model, target, lookup = Article, article, {"article": article}
        article_id = None
    deleted, _ = Like.objects.filter(user=user, **lookup).delete()
    if deleted:
        liked, step = False, -1
    else:
        try:
            with transaction.atomic():
                Like.objects.create(user=user, **lookup)
        except IntegrityError:
            # A concurrent click of the same user inserted it first: liked, and counted once.
            return True
        liked, step = True, 1
    model.objects.filter(pk=target.pk).update(like_count=F("like_count") + step)
    # Counts are filled into the cached page per request, keyed by this version: a like
    # retires the counts (one small query), not the rendering (forum/caching.py).
    Article.objects.filter(pk=article_id or target.pk).update(like_version=F("like_version") + 1)
    return liked


@dataclass(frozen=True)
class Drift:
    model: str
    pk: int
    field: str
    stored: int
    counted: int


@transaction.atomic
def recount_counters(*, fix: bool) -> list[Drift]:
    """Compare every stored counter with a recount (one query per counter kind)."""
    checks = [
        (Comment, "like_count", Count("likes", distinct=True)),
        (
            Comment,
            "reply_count",
            Count("replies", filter=Q(replies__status=CommentStatus.VISIBLE), distinct=True),
        ),
        (Article, "like_count", Count("likes", distinct=True)),
        (
            Article,
            "comment_count",
            Count("comments", filter=Q(comments__status=CommentStatus.VISIBLE), distinct=True),
        ),
    ]
    drift: list[Drift] = []
    for model, field, counted in checks:
        rows = (
            model.objects.annotate(counted=counted)
            .exclude(**{field: F("counted")})
            .values_list("pk", field, "counted")
        )
        for pk, stored, actual in rows:
            drift.append(Drift(model.__name__, pk, field, stored, actual))
            if fix:
                model.objects.filter(pk=pk).update(**{field: actual})
    if fix and drift:
        # The cached renderings show counters: retire them.
        article_ids = {d.pk for d in drift if d.model == "Article"}
        comment_ids = [d.pk for d in drift if d.model == "Comment"]
        article_ids |= set(
            Comment.objects.filter(pk__in=comment_ids).values_list("article_id", flat=True)
        )
        caching.discussions_changed(article_ids)
    return drift

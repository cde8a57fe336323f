"""Every read of forum data for a page: each function owns its query shape."""

from __future__ import annotations

from base64 import urlsafe_b64decode, urlsafe_b64encode
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Value, Window
from django.db.models.functions import Coalesce, Greatest, RowNumber
from django.http import Http404
from django.shortcuts import get_object_or_404

from accounts.models import User

from . import pagination
from .enums import CommentSort, CommentStatus
from .models import Article, Column, Comment, Follow, Like


def list_columns() -> list[Column]:
    return list(
        Column.objects.select_related("author")
        .annotate(
            chapter_count=Count("articles", filter=Q(articles__is_published=True), distinct=True),
            latest_activity=Max("articles__last_commented_at"),
        )
        .order_by("title")
    )


def list_recently_discussed_articles(*, limit: int = 10) -> list[Article]:
    return list(
        Article.objects.filter(is_published=True, last_commented_at__isnull=False)
        .select_related("column")
        .order_by("-last_commented_at")[:limit]
    )


SLUG_MAX_LENGTH = 200  # Column.slug and Article.slug


def _findable(*slugs: str) -> None:
    """404 for a slug no row can have, before it reaches the database: PostgreSQL refuses a NUL
    in a text parameter (an error, a 500, not "no such row"), and no slug is longer than its
    column. Every lookup by a slug from a URL or a form field goes through here."""
    for slug in slugs:
        if not slug or len(slug) > SLUG_MAX_LENGTH or "\x00" in slug:
            raise Http404


def get_column(*, slug: str) -> Column:
    _findable(slug)
    return get_object_or_404(Column.objects.select_related("author"), slug=slug)


def list_chapters(column: Column) -> list[Article]:
    return list(
        column.articles.filter(is_published=True)
        .only("id", "title", "slug", "position", "comment_count", "published_at", "column_id")
        .order_by("position")
    )


def get_article(*, column_slug: str, slug: str) -> Article:
    _findable(column_slug, slug)
    return get_object_or_404(
        Article.objects.select_related("column", "author"),
        column__slug=column_slug,
        slug=slug,
        is_published=True,
    )


@dataclass(frozen=True)
class ArticleVersion:
    """What finding an article's cached page takes, and what a signed-in reader's own regions of
    it need: their likes in the discussion, their like on the article, whether they follow it."""

    pk: int
    thread_version: int
    # Bumped by every like in the article, and the article's own like count (see caching.py).
    like_version: int
    article_likes: int
    reader_pk: int | None = None
    liked_comment_ids: frozenset[int] = frozenset()
    article_liked: bool = False
    following: bool = False
    # Whether the reader has comments here waiting for review (shown to them alone).
    has_held: bool = False


def get_article_version(*, column_slug: str, slug: str, reader=None) -> ArticleVersion:
    """The article's id and thread version, plus `reader`'s state on it: one query either way.

    Every article page request runs this, so it is SQL written once rather than a queryset
    built per request: building the annotated queryset (three subqueries) cost three times
    what running it did. It is plain SQL that SQLite and PostgreSQL both read. The reader's
    likes are all their likes in this article, one row each (people like few comments in one
    discussion), rather than the ones on the page being shown, which would need the page first.
    """
    _findable(column_slug, slug)
    sql, params = article_version_query(column_slug=column_slug, slug=slug, reader=reader)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    article = next((row for row in rows if row[0] is not None), None)
    if article is None:
        raise Http404
    if len(article) == 4:
        return ArticleVersion(*article)
    pk, version, like_version, likes, article_liked, following, has_held, _ = article
    liked = frozenset(row[7] for row in rows if row[0] is None)
    return ArticleVersion(
        pk,
        version,
        like_version,
        likes,
        reader.pk,
        liked,
        bool(article_liked),
        bool(following),
        bool(has_held),
    )


def article_version_query(*, column_slug: str, slug: str, reader=None) -> tuple[str, list]:
    """The SQL and parameters get_article_version runs (also for bench/reader_state.py)."""
    if reader is None or not reader.is_authenticated:
        return _VERSION_SQL, [column_slug, slug, True]
    return _READER_STATE_SQL, [
        column_slug,
        slug,
        True,
        reader.pk,
        reader.pk,
        reader.pk,
        CommentStatus.HELD,
        reader.pk,
    ]


_TABLES = {
    "article": Article._meta.db_table,
    "column": Column._meta.db_table,
    "comment": Comment._meta.db_table,
    "like": Like._meta.db_table,
    "follow": Follow._meta.db_table,
}
# Only the models' table names are put into the text; every value is a query parameter.
_VERSION_SQL = """
    SELECT a.id, a.thread_version, a.like_version, a.like_count + a.legacy_like_count
    FROM {article} a JOIN {column} c ON c.id = a.column_id
    WHERE c.slug = %s AND a.slug = %s AND a.is_published = %s
""".format(**_TABLES)  # noqa: S608
_READER_STATE_SQL = """
    WITH art AS (
        SELECT a.id, a.thread_version, a.like_version, a.like_count + a.legacy_like_count AS likes
        FROM {article} a JOIN {column} c ON c.id = a.column_id
        WHERE c.slug = %s AND a.slug = %s AND a.is_published = %s
    )
    SELECT art.id, art.thread_version, art.like_version, art.likes,
        EXISTS (SELECT 1 FROM {like} al WHERE al.user_id = %s AND al.article_id = art.id),
        EXISTS (SELECT 1 FROM {follow} f WHERE f.user_id = %s AND f.article_id = art.id),
        EXISTS (
            SELECT 1 FROM {comment} h
            WHERE h.author_id = %s AND h.article_id = art.id AND h.status = %s
        ),
        NULL
    FROM art
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL, cl.comment_id
    FROM {like} cl JOIN {comment} cm ON cm.id = cl.comment_id
    WHERE cl.user_id = %s AND cm.article_id = (SELECT id FROM art)
""".format(**_TABLES)  # noqa: S608


def get_article_page(*, column_slug: str, slug: str) -> Article:
    """The article with its previous and next chapters' slugs and titles, in one query."""
    _findable(column_slug, slug)
    siblings = Article.objects.filter(column=OuterRef("column"), is_published=True)
    before = siblings.filter(position__lt=OuterRef("position")).order_by("-position")
    after = siblings.filter(position__gt=OuterRef("position")).order_by("position")
    article = get_object_or_404(
        Article.objects.select_related("column", "author").annotate(
            previous_slug=Subquery(before.values("slug")[:1]),
            previous_title=Subquery(before.values("title")[:1]),
            next_slug=Subquery(after.values("slug")[:1]),
            next_title=Subquery(after.values("title")[:1]),
        ),
        column__slug=column_slug,
        slug=slug,
        is_published=True,
    )
    return article


def list_user_comments(
    *, user: User, before: str | None, per_page: int = 20
) -> pagination.HistoryPage:
    """A page of the person's visible comments, newest first (pagination.BadCursor if
    `before` is not one of ours)."""
    comments = Comment.objects.filter(
        author=user, status=CommentStatus.VISIBLE, article__is_published=True
    ).select_related("article__column")
    return pagination.newest_first(comments, before=before, per_page=per_page)


# --- The discussion under an article -------------------------------------------------------

ROOTS_PER_PAGE = 20
REPLIES_SHOWN = 5
# Replies indent up to this depth on screen; deeper ones say whom they answer instead.
MAX_INDENT = 4


class BadCursor(ValueError):
    """A pagination cursor that was not made by us (or by an older version)."""


@dataclass(frozen=True)
class Cursor:
    """Where a page of root comments starts: the sort key of the last root already shown."""

    featured: bool
    value: int | str  # score (top) or ISO timestamp (newest/oldest)
    pk: int

    def encode(self) -> str:
        raw = f"{int(self.featured)}~{self.value}~{self.pk}"
        return urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, *, sort: str) -> Cursor:
        try:
            raw = urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            featured, value, pk = raw.split("~")
            if sort in (CommentSort.TOP, CommentSort.ORIGINAL):
                parsed: int | str = int(value)
            else:
                parsed = datetime.fromisoformat(value).isoformat()
            return cls(featured=featured == "1", value=parsed, pk=int(pk))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadCursor(token) from exc

    @classmethod
    def of(cls, comment: Comment, *, sort: str) -> Cursor:
        if sort == CommentSort.TOP:
            value: int | str = comment.total_like_count
        elif sort == CommentSort.ORIGINAL:
            value = original_position(comment)
        else:
            value = comment.created_at.isoformat()
        return cls(featured=comment.is_featured, value=value, pk=comment.pk)


# Comments written here (no old-page position) come after the imported ones.
AFTER_IMPORTED = 2**31 - 1


def original_position(comment: Comment) -> int:
    return AFTER_IMPORTED if comment.legacy_position is None else comment.legacy_position


def _sort_key(sort: str) -> tuple[str, bool]:
    """(field, descending) of the chosen sort; "featured first" and the id tiebreak wrap it."""
    return {
        CommentSort.TOP: ("score", True),
        CommentSort.NEWEST: ("created_at", True),
        CommentSort.OLDEST: ("created_at", False),
        CommentSort.ORIGINAL: ("original_position", False),
    }[sort]


def _after(cursor: Cursor, *, sort: str, inclusive: bool = False) -> Q:
    """Roots that come after the cursor in (featured desc, key, id) order (keyset paging)."""
    field, descending = _sort_key(sort)
    beyond = "lt" if descending else "gt"
    value = (
        cursor.value
        if sort in (CommentSort.TOP, CommentSort.ORIGINAL)
        else datetime.fromisoformat(cursor.value)
    )
    # Featured roots come first, so after a featured cursor every unfeatured root follows.
    later_group = Q(is_featured=False) if cursor.featured else Q(pk__in=[])
    return (
        later_group
        | Q(is_featured=cursor.featured, **{f"{field}__{beyond}": value})
        | Q(is_featured=cursor.featured, **{field: value})
        & Q(**{f"pk__{beyond}{'e' if inclusive else ''}": cursor.pk})
    )


@dataclass
class ThreadPage:
    roots: list[Comment]
    next_cursor: str | None
    sort: str
    author_only: bool
    # Comment ids and authors on the page, for applying the reader's own state.
    comments: list[Comment] = field(default_factory=list)


def _visible_thread_filter(article_author_id: int) -> dict:
    replies = Comment.objects.filter(root=OuterRef("pk"), depth__gt=0, status=CommentStatus.VISIBLE)
    return {
        "score": F("like_count") + Greatest(F("legacy_like_count"), Value(0)),
        "original_position": Coalesce(F("legacy_position"), Value(AFTER_IMPORTED)),
        "thread_size": Coalesce(
            Subquery(replies.values("root").annotate(n=Count("pk")).values("n")[:1]), 0
        ),
        "author_reply_count": Coalesce(
            Subquery(
                replies.filter(author_id=article_author_id)
                .values("root")
                .annotate(n=Count("pk"))
                .values("n")[:1]
            ),
            0,
        ),
    }


def get_thread_page(
    *,
    article: Article,
    sort: str = CommentSort.TOP,
    cursor: Cursor | None = None,
    author_only: bool = False,
    start_at: Comment | None = None,
    per_page: int = ROOTS_PER_PAGE,
) -> ThreadPage:
    """One page of root comments with their first replies, in two queries.

    `start_at` (a root) makes the page begin at that root, for permalinks far down; its whole
    thread is then read (a third query) so the linked reply is on the page however deep it is.
    """
    field, descending = _sort_key(sort)
    order = "-" if descending else ""
    roots_qs = (
        Comment.objects.filter(article=article, parent__isnull=True)
        .annotate(**_visible_thread_filter(article.author_id))
        # A root shows if visible, or as a tombstone when its thread still has replies.
        .filter(Q(status=CommentStatus.VISIBLE) | Q(thread_size__gt=0))
        .select_related("author")
        .order_by("-is_featured", f"{order}{field}", f"{order}pk")
    )
    if author_only:
        roots_qs = roots_qs.filter(author_reply_count__gt=0)
    if start_at is not None:
        roots_qs = roots_qs.filter(
            _after(Cursor.of(start_at, sort=sort), sort=sort, inclusive=True)
        )
    elif cursor is not None:
        roots_qs = roots_qs.filter(_after(cursor, sort=sort))
    roots = list(roots_qs[: per_page + 1])
    next_cursor = None
    if len(roots) > per_page:
        roots = roots[:per_page]
        next_cursor = Cursor.of(roots[-1], sort=sort).encode()

    replies = _first_replies([root.pk for root in roots]) if roots else []
    if start_at is not None:
        replies = [r for r in replies if r.root_id != start_at.pk] + _whole_thread(start_at.pk)
    _attach_replies(roots, replies, article=article)
    comments = [c for root in roots for c in [root, *root.shown_replies]]
    return ThreadPage(roots, next_cursor, sort, author_only, comments)


def _first_replies(root_ids: list[int]) -> list[Comment]:
    ranked = (
        Comment.objects.filter(root_id__in=root_ids, depth__gt=0)
        .annotate(rank=Window(RowNumber(), partition_by=[F("root_id")], order_by=F("path").asc()))
        .filter(rank__lte=REPLIES_SHOWN)
        .select_related("author", "parent__author")
        .order_by("root_id", "path")
    )
    return list(ranked)


def _whole_thread(root_id: int) -> list[Comment]:
    return list(
        Comment.objects.filter(root_id=root_id, depth__gt=0)
        .select_related("author", "parent__author")
        .order_by("path")
    )


def get_more_replies(*, root: Comment) -> list[Comment]:
    """The replies of a thread beyond the first REPLIES_SHOWN (for "show N more replies").

    The first page took the first REPLIES_SHOWN rows in path order, tombstones included, so
    "the rest" is whatever is shown now and was not among those rows.
    """
    replies = _whole_thread(root.pk)
    already_shown = {reply.pk for reply in replies[:REPLIES_SHOWN]}
    _attach_replies([root], replies, article=root.article)
    return [reply for reply in root.shown_replies if reply.pk not in already_shown]


def _attach_replies(roots: list[Comment], replies: list[Comment], *, article: Article) -> None:
    """Give each root `shown_replies` (reading order) and `more_replies` (not yet shown).

    A hidden or removed reply stays only as a tombstone, and only while a visible reply hangs
    below it.
    """
    by_root: dict[int, list[Comment]] = {root.pk: [] for root in roots}
    for reply in replies:
        by_root[reply.root_id].append(reply)
    for root in roots:
        thread = by_root[root.pk]
        needed: set[int] = set()
        for reply in reversed(thread):  # children come after parents in path order
            if reply.status == CommentStatus.VISIBLE or reply.pk in needed:
                needed.add(reply.parent_id)
        root.shown_replies = [
            r for r in thread if r.status == CommentStatus.VISIBLE or r.pk in needed
        ]
        visible_shown = sum(1 for r in root.shown_replies if r.status == CommentStatus.VISIBLE)
        root.more_replies = max(getattr(root, "thread_size", 0) - visible_shown, 0)
        for comment in [root, *root.shown_replies]:
            comment.is_author_reply = comment.author_id == article.author_id
            comment.indent = min(comment.depth, MAX_INDENT)


def held_comments(*, article: Article, reader) -> list[Comment]:
    """`reader`'s comments on `article` waiting for a moderator, oldest first: shown to them
    alone, marked as waiting, so a held comment doesn't just vanish for its author."""
    if not reader.is_authenticated:
        return []
    return list(
        Comment.objects.filter(article=article, author=reader, status=CommentStatus.HELD)
        .select_related("parent__author")
        .order_by("created_at", "pk")
    )


def get_comment_for_permalink(*, pk: int) -> Comment:
    return get_object_or_404(
        Comment.objects.select_related("article__column", "root", "author").filter(
            article__is_published=True
        ),
        pk=pk,
    )


def get_comment(*, pk: int) -> Comment:
    return get_object_or_404(
        Comment.objects.select_related("article__column", "author", "parent__author").filter(
            article__is_published=True
        ),
        pk=pk,
    )


def get_thread_root(*, article: Article, comment_id: int) -> Comment | None:
    """The root of the thread holding `comment_id`, if that comment is under `article`."""
    return Comment.objects.filter(
        pk=Subquery(Comment.objects.filter(pk=comment_id, article=article).values("root_id")[:1])
    ).first()


def follows(*, user, column=None, article=None) -> bool:
    if not user.is_authenticated:
        return False
    lookup = {"column": column} if column is not None else {"article": article}
    return Follow.objects.filter(user=user, **lookup).exists()


def like_counts(*, comment_ids) -> dict[int, int]:
    """The like counts of these comments as readers see them (legacy likes included): one
    query, bounded by the page that shows them."""
    rows = Comment.objects.filter(pk__in=list(comment_ids)).values_list(
        "pk", "like_count", "legacy_like_count"
    )
    return {pk: likes + max(legacy, 0) for pk, likes, legacy in rows}


def liked_ids(
    *, user, comment_ids: list[int], article: Article | None = None
) -> tuple[set[int], bool]:
    """The comments (among `comment_ids`) and whether the article the user likes: one query."""
    if not user.is_authenticated:
        return set(), False
    condition = Q(comment_id__in=comment_ids)
    if article is not None:
        condition |= Q(article=article)
    rows = Like.objects.filter(condition, user=user).values_list("comment_id", "article_id")
    comments, article_liked = set(), False
    for comment_id, article_id in rows:
        if comment_id:
            comments.add(comment_id)
        elif article_id:
            article_liked = True
    return comments, article_liked

"""Rendering the discussion fast: one cached HTML for everyone, personalised in one pass.

The threads region is rendered once per (article, thread version, language, sort, filter,
cursor) and cached; every write to the thread bumps `Article.thread_version`, so stale entries
are never read again and simply expire. What differs between readers and between requests — the
like buttons (the count as of now, their own like state, the CSRF token) and the
edit/delete/feature controls — is left in the cached HTML as markers, written by the thread
template and filled in per request by forum/pagecache.py (where their grammar and invariants
are): the counts from one query bounded by the page (a like does not retire the rendering; see
caching.py), the reader's state from one query.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.core.cache import cache
from django.template.loader import render_to_string
from django.utils.safestring import SafeString
from django.utils.translation import gettext

from . import caching, selectors
from .enums import CommentSort
from .models import Article, Comment
from .pagecache import comment_url_prefix, personalize

CACHE_SECONDS = 24 * 3600
TEMPLATE = "forum/article_detail.html"


def labels() -> dict[str, str]:
    """Translated strings of the thread template, looked up once per rendering."""
    return {
        "author": gettext("Author"),
        "author_reply": gettext("Author reply"),
        "editor_reply": gettext("Editor reply"),
        "featured": gettext("Featured"),
        "edited": gettext("edited"),
        "reply": gettext("Reply"),
        "replying_to": gettext("replying to"),
        "deleted": gettext("[deleted]"),
        "hidden": gettext("[hidden by a moderator]"),
        "held": gettext("[awaiting a moderator’s review]"),
        "permalink": gettext("Link to this comment"),
        "load_more": gettext("Load more comments"),
        "legacy": gettext("imported"),
    }


@dataclass
class RenderedThreads:
    html: SafeString
    next_cursor: str | None
    comment_count: int
    article_liked: bool
    # The cached rendering before personalisation, its markers still in.
    raw_html: str
    # The like counts filled in, by comment id (as of this request).
    counts: dict[int, int]


def thread_context() -> dict:
    """What the thread template needs besides the comments: labels and the URL prefix."""
    return {"labels": labels(), "c_url": comment_url_prefix()}


def render_threads(
    request,
    *,
    article: Article,
    sort: str,
    author_only: bool,
    cursor: selectors.Cursor | None,
    start_at: Comment | None = None,
) -> RenderedThreads:
    key = caching.threads_key(
        article_pk=article.pk,
        thread_version=article.thread_version,
        versions=caching.current(),
        shape=(
            sort,
            int(author_only),
            cursor.encode() if cursor else "",
            start_at.pk if start_at else "",
        ),
    )
    cached = cache.get(key)
    if cached is not None and _order_outdated(cached, article=article, sort=sort):
        cached = None
    if cached is None:
        with caching.filling():
            page = selectors.get_thread_page(
                article=article,
                sort=sort,
                cursor=cursor,
                author_only=author_only,
                start_at=start_at,
            )
            html = render_to_string(
                f"{TEMPLATE}#threads",
                {
                    "page": page,
                    "article": article,
                    **thread_context(),
                    "more_url": _more_url(article, page),
                },
            )
        cached = {
            "html": html,
            "next_cursor": page.next_cursor,
            "comments": [(c.pk, c.author_id) for c in page.comments],
            "like_version": article.like_version,
            "rendered_at": _clock(),
        }
        cache.set(key, cached, CACHE_SECONDS)
    comments = cached["comments"]
    # Likes don't retire the rendering: the page's counts come from one query, bounded by it.
    counts = selectors.like_counts(comment_ids=[pk for pk, _ in comments])
    liked, article_liked = selectors.liked_ids(
        user=request.user, comment_ids=[pk for pk, _ in comments], article=article
    )
    html = personalize(
        request, cached["html"], article=article, comments=comments, liked=liked, counts=counts
    )
    return RenderedThreads(
        html,
        cached["next_cursor"],
        len(comments),
        article_liked,
        raw_html=cached["html"],
        counts=counts,
    )


# How long the "top" order may lag behind likes: a like changes counts at once (they are filled
# in per request) but re-sorts a cached thread only once its rendering is this old.
TOP_ORDER_SECONDS = 300


def _order_outdated(cached: dict, *, article: Article, sort: str) -> bool:
    """Whether a cached "top" rendering is old enough, and liked since, to be sorted again."""
    return (
        sort == CommentSort.TOP
        and cached["like_version"] != article.like_version
        and _clock() - cached["rendered_at"] > TOP_ORDER_SECONDS
    )


def _clock() -> float:
    return time.time()


def _more_url(article: Article, page: selectors.ThreadPage) -> str:
    if not page.next_cursor:
        return ""
    query = f"?sort={page.sort}&cursor={page.next_cursor}"
    if page.author_only:
        query += "&author=1"
    return article.get_absolute_url() + query


def render_comment(request, comment: Comment) -> SafeString:
    """One comment, as it appears in the thread (for htmx responses after a write)."""
    comment.is_author_reply = comment.author_id == comment.article.author_id
    comment.indent = min(comment.depth, selectors.MAX_INDENT)
    html = render_to_string(
        f"{TEMPLATE}#comment",
        {"c": comment, "article": comment.article, **thread_context()},
    )
    return personalize(
        request, html, article=comment.article, comments=[(comment.pk, comment.author_id)]
    )

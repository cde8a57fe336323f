"""Rendering the discussion fast: one cached HTML for everyone, personalised in one pass.

The threads region is rendered once per (article, thread version, language, sort, filter,
cursor) and cached; every write to the thread bumps `Article.thread_version`, so stale entries
are never read again and simply expire. What differs between readers and between requests — the
like buttons (the count as of now, their own like state, the CSRF token) and the
edit/delete/feature controls — is left in the cached HTML as markers (`<!--like:ID:COUNT-->`,
`<!--act:ID:ROOT:FEATURED:AUTHOR-->`, `<!--mod:ID:0-->`) and filled in per request: the counts
from one query bounded by the page (a like does not retire the rendering; see caching.py), the
reader's state from one query. User text can't forge a marker: comment HTML is sanitized with
comments stripped, names are escaped.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.cache import cache
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from . import caching, permissions, selectors
from .enums import CommentSort
from .models import Article, Comment

CACHE_SECONDS = 24 * 3600
TEMPLATE = "forum/article_detail.html"
MARKER = re.compile(r"<!--(like|act|mod):(\d+):(\d+)(?::(\d):(\d+))?-->")


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


def _comment_urls() -> str:
    # "/c/0/" → "/c/": every per-comment URL is this prefix + id + suffix, built once.
    return _fixed_urls(get_script_prefix())[0]


@functools.cache
def _fixed_urls(script_prefix: str) -> tuple[str, str]:
    """(comment URL prefix, login URL): reversed once per script prefix, the one thing they
    depend on (`reverse` was several percent of a signed-in page)."""
    return reverse("forum:comment-permalink", args=[0])[:-2], reverse("account_login")


def thread_context() -> dict:
    """What the thread template needs besides the comments: labels and the URL prefix."""
    return {"labels": labels(), "c_url": _comment_urls()}


def button_text() -> dict[str, str]:
    """The like and comment controls' labels, in the active language."""
    return _button_text_in(get_language())


@functools.cache
def _button_text_in(language: str) -> dict[str, str]:
    # Keyed by the active language: the gettext calls below answer in it.
    return {
        "like": escape(gettext("Like")),
        "unlike": escape(gettext("Remove your like")),
        "edit": escape(gettext("Edit")),
        "delete": escape(gettext("Delete")),
        "feature": escape(gettext("Feature")),
        "unfeature": escape(gettext("Unfeature")),
        "login_to_like": escape(gettext("Log in to like")),
        "report": escape(gettext("Report")),
        "hide": escape(gettext("Hide")),
        "restore": escape(gettext("Restore")),
    }


def login_url() -> str:
    return _fixed_urls(get_script_prefix())[1]


def like_button_for(request, *, url: str, count: int, liked: bool, next_url: str) -> SafeString:
    """The like button (or, for anonymous readers, a link to log in) as the reader sees it."""
    token = escape(get_token(request)) if request.user.is_authenticated else ""
    login = f"{login_url()}?next={next_url}"
    html = like_button(
        url=url, count=count, liked=liked, token=token, login_url=login, text=button_text()
    )
    return mark_safe(html)  # noqa: S308 - like_button escapes what it interpolates


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
        page = selectors.get_thread_page(
            article=article, sort=sort, cursor=cursor, author_only=author_only, start_at=start_at
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


@dataclass(frozen=True)
class Reader:
    """What filling a thread's markers needs to know about the person reading it."""

    pk: int | None
    liked: frozenset[int] | set[int]
    token: str
    # Like counts as of this request, by comment id; a comment missing here shows the count
    # its marker was rendered with.
    counts: Mapping[int, int] = field(default_factory=dict)
    can_write: bool = False
    can_feature: bool = False
    can_moderate: bool = False

    @property
    def sees_only_own_controls(self) -> bool:
        """A writer with no powers over others' comments: differs from any other such writer
        only on the comments they liked or wrote."""
        return self.can_write and not self.can_feature and not self.can_moderate


def reader_for(
    request,
    *,
    article: Article,
    liked: set[int] | frozenset[int],
    token: str | None = None,
    counts: Mapping[int, int] | None = None,
) -> Reader:
    """`token` stands in for the CSRF token when the caller puts the real one in afterwards."""
    user = request.user
    # Read once: `request.user` is a lazy proxy, and every attribute read through it costs.
    user_pk = user.pk
    counts = counts or {}
    if user_pk is None:
        return Reader(pk=None, liked=frozenset(), token="", counts=counts)
    return Reader(
        pk=user_pk,
        liked=liked,
        counts=counts,
        token=escape(get_token(request)) if token is None else token,
        can_write=permissions.can_write(user),
        can_feature=permissions.can_feature(user, article),
        # Moderators everywhere, the column's author in their column: hide and restore.
        can_moderate=permissions.can_moderate_in(user, article),
    )


def personalize(
    request,
    html: str,
    *,
    article: Article,
    comments: list[tuple[int, int]],
    liked: set[int] | None = None,
    counts: Mapping[int, int] | None = None,
) -> SafeString:
    """Fill the markers of cached thread HTML for this reader (`counts`: the like counts as of
    now, when the HTML may be older than the last like)."""
    if liked is None and request.user.is_authenticated:
        liked = selectors.liked_ids(user=request.user, comment_ids=[pk for pk, _ in comments])[0]
    reader = reader_for(request, article=article, liked=liked or frozenset(), counts=counts)
    fill = _marker_filler(reader)
    return mark_safe(MARKER.sub(lambda m: fill(*m.groups()), html))  # noqa: S308 - escaped values


def _marker_filler(reader: Reader):
    prefix, login = _fixed_urls(get_script_prefix())
    text = button_text()
    liked, token, user_pk, counts = reader.liked, reader.token, reader.pk, reader.counts

    def fill(kind: str, pk: str, third: str, featured: str | None, author: str | None) -> str:
        url = f"{prefix}{pk}/"
        if kind == "like":
            return like_button(
                url=f"{url}like/",
                count=counts.get(int(pk), int(third)),
                liked=int(pk) in liked,
                token=token,
                login_url=f"{login}?next={url}",
                text=text,
            )
        if kind == "mod":
            # A hidden or held comment's tombstone: those who moderate may bring it back.
            if not reader.can_moderate:
                return ""
            return f'<a class="action" href="{url}restore/">{text["restore"]}</a>'
        parts = []
        own = int(author) == user_pk
        if reader.can_write and own:
            parts.append(
                f'<a class="action" href="{url}edit/" hx-get="{url}edit/" '
                f'hx-target="#c-{pk}" hx-swap="outerHTML">{text["edit"]}</a>'
                f'<a class="action" href="{url}delete/">{text["delete"]}</a>'
            )
        if reader.can_write and not own:
            parts.append(
                f'<a class="action" href="{url}report/" hx-get="{url}report/" '
                f'hx-target="#reply-{pk}" hx-swap="outerHTML">{text["report"]}</a>'
            )
        if reader.can_moderate:
            parts.append(f'<a class="action" href="{url}hide/">{text["hide"]}</a>')
        if third == "1" and reader.can_feature:
            is_featured = featured == "1"
            label = text["unfeature"] if is_featured else text["feature"]
            parts.append(
                f'<form method="post" action="{url}feature/" class="inline-form">'
                f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
                f'<input type="hidden" name="featured" value="{0 if is_featured else 1}">'
                f'<button type="submit" class="action link-button">{label}</button></form>'
            )
        return "".join(parts)

    return fill


# --- Threads as most readers see them -------------------------------------------------------
#
# Anonymous readers all see the same threads, and most signed-in readers are writers with no
# powers over others' comments, whose threads differ only where they liked or wrote something.
# So the page cache keeps the threads split at their markers, each marker filled in once as such
# a reader who liked and wrote nothing sees it (the CSRF token left as a placeholder), and each
# like button split once more around its count. A reader's threads are that list with the
# counts of this request put in, their few own markers filled again, joined.
_COUNT_OPEN, _COUNT_CLOSE = '<span class="like-count">', "</span>"


def split_for_readers(html: str, *, token: str, can_write: bool = True) -> dict:
    """The threads HTML, split at its markers and pre-filled for a reader with no likes: a
    writer (`token` for the CSRF token), or with `can_write=False` and no token, anyone.

    {"generic": the parts, markers filled; "markers": {index: the marker as written};
    "like_at": {comment id: index of its like button, whose count is the next part and the rest
    of the button the one after}; "own_at": {author id: indices of their comments' action
    markers}}."""
    generic, markers, like_at, own_at = [], {}, {}, {}
    fill = _marker_filler(Reader(pk=None, liked=frozenset(), token=token, can_write=can_write))
    position = 0
    for match in MARKER.finditer(html):
        generic.append(html[position : match.start()])
        groups = match.groups()
        index = len(generic)
        filled = fill(*groups)
        markers[index] = match.group(0)
        if groups[0] == "like":
            head, opened, rest = filled.partition(_COUNT_OPEN)
            count, closed, tail = rest.partition(_COUNT_CLOSE)
            generic += [head + opened, count, closed + tail]
            like_at[int(groups[1])] = index
        else:
            generic.append(filled)
            if groups[0] == "act":
                own_at.setdefault(int(groups[4]), []).append(index)
        position = match.end()
    generic.append(html[position:])
    return {"generic": generic, "markers": markers, "like_at": like_at, "own_at": own_at}


def _with_counts(split: dict, counts: Mapping[int, int]) -> list[str]:
    parts = list(split["generic"])
    for pk, index in split["like_at"].items():
        count = counts.get(pk)
        if count is not None:
            parts[index + 1] = str(count)
    return parts


def threads_for_everyone(split: dict, *, counts: Mapping[int, int]) -> str:
    """The threads of a split made with `can_write=False`, with this request's like counts."""
    return "".join(_with_counts(split, counts))


def threads_for_reader(
    request, split: dict, *, article: Article, liked, token: str, counts: Mapping[int, int]
) -> str:
    reader = reader_for(request, article=article, liked=liked, token=token, counts=counts)
    fill = _marker_filler(reader)
    parts, markers, like_at = _with_counts(split, counts), split["markers"], split["like_at"]
    if not reader.sees_only_own_controls:
        for index, marker in markers.items():
            parts[index] = marker
        for index in like_at.values():
            parts[index + 1] = parts[index + 2] = ""
        return MARKER.sub(lambda m: fill(*m.groups()), "".join(parts))
    for pk in liked:
        index = like_at.get(pk)
        if index is not None:
            parts[index] = fill(*MARKER.fullmatch(markers[index]).groups())
            parts[index + 1] = parts[index + 2] = ""
    for index in split["own_at"].get(reader.pk, ()):
        parts[index] = fill(*MARKER.fullmatch(markers[index]).groups())
    # A plain str (no SafeString copy of the whole thread): the caller joins it into the page.
    return "".join(parts)


# 👍 as a character reference: one character outside the BMP makes Python store the whole page
# four bytes per character, and every join, replace and encode of it slower.
THUMB = "&#128077;"


def like_button(
    *, url: str, count: int, liked: bool, token: str, login_url: str, text: dict[str, str]
) -> str:
    if not token:
        return (
            f'<a class="like" href="{login_url}" title="{text["login_to_like"]}">'
            f'<span aria-hidden="true">{THUMB}</span> <span class="like-count">{count}</span>'
            f'<span class="visually-hidden">{text["login_to_like"]}</span></a>'
        )
    label = text["unlike"] if liked else text["like"]
    return (
        f'<form method="post" action="{url}" class="like-form" hx-post="{url}" '
        f'hx-target="this" hx-swap="outerHTML" hx-disabled-elt="find button">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        f'<button type="submit" class="like{" is-liked" if liked else ""}" '
        f'aria-pressed="{"true" if liked else "false"}" title="{label}">'
        f'<span aria-hidden="true">{THUMB}</span> <span class="like-count">{count}</span>'
        f'<span class="visually-hidden">{label}</span></button></form>'
    )

"""Rendering the discussion fast: one cached HTML for everyone, personalised in one pass.

The threads region is rendered once per (article, thread version, language, sort, filter,
cursor) and cached; every write to the thread bumps `Article.thread_version`, so stale entries
are never read again and simply expire. What differs between readers — the like buttons (their
own like state, the CSRF token) and the edit/delete/feature controls — is left in the cached
HTML as markers (`<!--like:ID:COUNT-->`, `<!--act:ID:ROOT:FEATURED:AUTHOR-->`) and filled in by
one regular-expression pass with the reader's state from one query. User text can't forge a
marker: comment HTML is sanitized with comments stripped, names are escaped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.core.cache import cache
from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from . import permissions, selectors
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


def _comment_urls() -> str:
    # "/c/0/" → "/c/": every per-comment URL is this prefix + id + suffix, built once.
    return reverse("forum:comment-permalink", args=[0])[:-2]


def thread_context() -> dict:
    """What the thread template needs besides the comments: labels and the URL prefix."""
    return {"labels": labels(), "c_url": _comment_urls()}


def _button_text() -> dict[str, str]:
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


def like_button_for(request, *, url: str, count: int, liked: bool, next_url: str) -> SafeString:
    """The like button (or, for anonymous readers, a link to log in) as the reader sees it."""
    token = escape(get_token(request)) if request.user.is_authenticated else ""
    login_url = f"{reverse('account_login')}?next={next_url}"
    html = like_button(
        url=url, count=count, liked=liked, token=token, login_url=login_url, text=_button_text()
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
    key = ":".join(
        str(part)
        for part in (
            "threads",
            article.pk,
            article.thread_version,
            get_language(),
            sort,
            int(author_only),
            cursor.encode() if cursor else "",
            start_at.pk if start_at else "",
        )
    )
    cached = cache.get(key)
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
        }
        cache.set(key, cached, CACHE_SECONDS)
    if not request.user.is_authenticated:
        # Every anonymous reader sees the same page: personalise it once, keep it with the rest.
        if "anonymous" not in cached:
            cached["anonymous"] = personalize(
                request, cached["html"], article=article, comments=cached["comments"]
            )
            cache.set(key, cached, CACHE_SECONDS)
        html = mark_safe(cached["anonymous"])  # noqa: S308 - our own rendering, personalised
        return RenderedThreads(html, cached["next_cursor"], len(cached["comments"]), False)
    # One query for the reader's likes on this page, the article's own like included.
    liked, article_liked = selectors.liked_ids(
        user=request.user, comment_ids=[pk for pk, _ in cached["comments"]], article=article
    )
    html = personalize(
        request, cached["html"], article=article, comments=cached["comments"], liked=liked
    )
    return RenderedThreads(html, cached["next_cursor"], len(cached["comments"]), article_liked)


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


def personalize(
    request,
    html: str,
    *,
    article: Article,
    comments: list[tuple[int, int]],
    liked: set[int] | None = None,
) -> SafeString:
    user = request.user
    prefix = _comment_urls()
    if user.is_authenticated:
        if liked is None:
            liked = selectors.liked_ids(user=user, comment_ids=[pk for pk, _ in comments])[0]
        token = escape(get_token(request))
        can_feature = permissions.can_feature(user, article)
        can_write = permissions.can_write(user)
        # Moderators everywhere, the column's author in their column: hide and restore.
        can_moderate = permissions.is_moderator(user) or article.column.author_id == user.pk
    else:
        liked, token, can_feature, can_write, can_moderate = set(), "", False, False, False
    login = reverse("account_login")
    text = _button_text()

    def fill(match: re.Match) -> str:
        kind, pk = match.group(1), int(match.group(2))
        url = f"{prefix}{pk}/"
        if kind == "like":
            return like_button(
                url=f"{url}like/",
                count=int(match.group(3)),
                liked=pk in liked,
                token=token,
                login_url=f"{login}?next={url}",
                text=text,
            )
        if kind == "mod":
            # A hidden or held comment's tombstone: those who moderate may bring it back.
            if not can_moderate:
                return ""
            return f'<a class="action" href="{url}restore/">{text["restore"]}</a>'
        is_root, featured, author_id = (
            match.group(3) == "1",
            match.group(4) == "1",
            int(match.group(5)),
        )
        parts = []
        if can_write and author_id == user.pk:
            parts.append(
                f'<a class="action" href="{url}edit/" hx-get="{url}edit/" '
                f'hx-target="#c-{pk}" hx-swap="outerHTML">{text["edit"]}</a>'
                f'<a class="action" href="{url}delete/">{text["delete"]}</a>'
            )
        if can_write and author_id != user.pk:
            parts.append(
                f'<a class="action" href="{url}report/" hx-get="{url}report/" '
                f'hx-target="#reply-{pk}" hx-swap="outerHTML">{text["report"]}</a>'
            )
        if can_moderate:
            parts.append(f'<a class="action" href="{url}hide/">{text["hide"]}</a>')
        if is_root and can_feature:
            label = text["unfeature"] if featured else text["feature"]
            parts.append(
                f'<form method="post" action="{url}feature/" class="inline-form">'
                f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
                f'<input type="hidden" name="featured" value="{0 if featured else 1}">'
                f'<button type="submit" class="action link-button">{label}</button></form>'
            )
        return "".join(parts)

    return mark_safe(MARKER.sub(fill, html))  # noqa: S308 - fills markers with escaped values


def like_button(
    *, url: str, count: int, liked: bool, token: str, login_url: str, text: dict[str, str]
) -> str:
    if not token:
        return (
            f'<a class="like" href="{login_url}" title="{text["login_to_like"]}">'
            f'<span aria-hidden="true">👍</span> <span class="like-count">{count}</span>'
            f'<span class="visually-hidden">{text["login_to_like"]}</span></a>'
        )
    label = text["unlike"] if liked else text["like"]
    return (
        f'<form method="post" action="{url}" class="like-form" hx-post="{url}" '
        f'hx-target="this" hx-swap="outerHTML" hx-disabled-elt="find button">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{token}">'
        f'<button type="submit" class="like{" is-liked" if liked else ""}" '
        f'aria-pressed="{"true" if liked else "false"}" title="{label}">'
        f'<span aria-hidden="true">👍</span> <span class="like-count">{count}</span>'
        f'<span class="visually-hidden">{label}</span></button></form>'
    )

"""The signed-in reader's own regions of the article page, rendered once per process and shape.

A signed-in reader's article page is the cached anonymous page with a few regions replaced (see
`views.article_detail`). Each of those regions is a pure function of a handful of values — the
language, a URL, a flag or two, the reader's name and avatar, their unread count — and the CSRF
token, which is left as a marker and put in with the rest of the page. So each is rendered by
its template once for those values and kept in a small per-process LRU; rendering the same
template again for every request was a quarter of a signed-in page's CPU.

Only what those values fully determine is kept here; anything else (a suspended reader's notice,
a form with errors) is rendered as usual by the view.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils.translation import get_language

from . import discussion
from .forms import CommentForm
from .models import Article

# --- The header's unread count ----------------------------------------------------------------
#
# The bell's number belongs to notifications, an app above the forum: it tells the forum how to
# find it when it starts (notifications/apps.py), so the forum never imports it. The count is
# read from the cache in the page's one round trip (`unread_keys`), and counted only on a miss.


@dataclass(frozen=True)
class UnreadSource:
    cache_key: Callable[[int], str]
    # (user, cached=the cache's value or None) → the count
    count: Callable[..., int]


_unread: UnreadSource | None = None


def provide_unread_count(source: UnreadSource) -> None:
    global _unread
    _unread = source


def unread_keys(user_pk: int) -> list[str]:
    return [_unread.cache_key(user_pk)] if _unread else []


def unread_for(user, found: dict) -> int:
    """The reader's unread count, from `found` (what the cache gave for `unread_keys`)."""
    if _unread is None:
        return 0
    return _unread.count(user, cached=found.get(_unread.cache_key(user.pk)))


# Set by the view before it renders anything: the same marker its cached pages carry.
CSRF_MARK = "\x00csrf\x00"


class Memo:
    """A thread-safe LRU of strings, keyed by everything that determines them."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, str] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], str]) -> str:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
                return value
        value = make()
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# One entry per (language, reader, unread count…): sized for the readers active at once.
_nav = Memo(maxsize=4096)
# One entry per (language, article or URL, state): sized for the articles being read.
_pieces = Memo(maxsize=4096)


def clear() -> None:
    _nav.clear()
    _pieces.clear()


def nav_user(user, *, unread: int) -> str:
    """The header's user menu of a signed-in reader (bell, name, avatar, account links)."""
    key = (
        get_language(),
        get_script_prefix(),
        user.pk,
        user.display_name,
        user.avatar_src,
        user.is_staff,
        unread,
    )
    return _nav.get(
        key,
        lambda: render_to_string(
            "base.html#nav_user",
            {"user": user, "unread_notifications": unread, "csrf_token": CSRF_MARK},
        ),
    )


def article_like_link(article: Article, *, count: int) -> str:
    """The article's like count as an anonymous reader sees it: a link to log in and like."""
    url = article.get_absolute_url()
    key = ("like_link", get_language(), get_script_prefix(), url, count)
    return _pieces.get(
        key,
        lambda: discussion.like_button(
            url="",
            count=count,
            liked=False,
            token="",
            login_url=f"{discussion.login_url()}?next={url}",
            text=discussion.button_text(),
        ),
    )


def article_actions(article: Article, *, count: int, liked: bool, following: bool) -> str:
    """The article's like and follow buttons, as a signed-in reader sees them (`count`: its
    likes as of this request, which the cached article may be older than)."""
    slugs = [article.column.slug, article.slug]  # the forms' URLs: a renamed slug is a new key
    key = ("actions", get_language(), get_script_prefix(), *slugs, count, liked, following)

    def make() -> str:
        like = discussion.like_button(
            url=reverse("forum:article-like", args=slugs),
            count=count,
            liked=liked,
            token=CSRF_MARK,
            login_url=discussion.login_url(),
            text=discussion.button_text(),
        )
        url = reverse("notifications:follow-article", args=slugs)
        return like + follow_form(url=url, following=following)

    return _pieces.get(key, make)


def follow_form(*, url: str, following: bool) -> str:
    return _pieces.get(
        ("follow", get_language(), get_script_prefix(), url, following),
        lambda: render_to_string(
            "notifications/_follow.html",
            {"url": url, "following": following, "csrf_token": CSRF_MARK},
        ),
    )


def comment_form(article: Article) -> str:
    """The empty comment form, as a reader who may write sees it."""
    return _pieces.get(
        ("comment_form", get_language(), get_script_prefix(), article.column.slug, article.slug),
        lambda: render_to_string(
            "forum/article_detail.html#comment_form",
            {
                "article": article,
                "comment_form": CommentForm(),
                "can_write": True,
                "csrf_token": CSRF_MARK,
            },
        ),
    )

"""The article page's shared rendering and the one pass that makes it a reader's own.

The article page is rendered once per version (forum/caching.py) for an anonymous reader and
kept; every reader's page is made from that rendering by filling in what is theirs. This module
holds all of that machinery — the placeholders, how they are split and filled, and the small
per-process memo of the regions they are filled with — so its rules live in one place:

Invariants:
1. Slots. The page template wraps each region that differs between readers in
   `<!--slot:NAME-->…<!--/slot:NAME-->` (the CSRF meta tag, the header's user menu, the
   article's like/follow buttons, the comment form, the threads). `split_at_slots` turns the
   page into a list whose item at `slots[NAME]` is that region; a reader's page is the list with
   those items replaced (forum/views.py decides what goes in each), joined. Slots are written by
   our templates only, outside any user text, and are found once, when the page is cached.
2. Markers. The thread template writes a marker where a reader's controls go:
   `<!--like:ID:COUNT-->`, `<!--act:ID:ROOT:FEATURED:AUTHOR-->`, `<!--mod:ID:0-->` (MARKER).
   They are filled from a `Reader` (their likes, their own comments, their powers) and the like
   counts of this request; nothing else in the cached HTML depends on who reads it. User text
   can't forge a marker or a slot: comment HTML is sanitized with HTML comments stripped, and
   names and titles are escaped.
3. The CSRF token is never in a cached rendering: where a signed-in reader's regions need it,
   they carry CSRF_MARK, replaced by the request's token as the page is sent. The mark holds NUL
   characters, which no rendered text can contain (Django's forms refuse NUL in what users type;
   the legacy parser's normalisation drops control characters; escaping keeps them out of
   attributes).
4. Threads are split once at their markers for the readers most pages go to (`split_for_readers`:
   anyone, or a writer who liked and wrote nothing), each like button split once more around its
   count, so most requests only put counts in and refill their own few markers.
5. The regions that depend only on a few values (the language, a URL, a flag, a name, an
   unread count) are rendered once per process for those values and kept in a bounded LRU
   (`Memo`); the key is every value that determines the HTML.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field

from django.middleware.csrf import get_token
from django.template.loader import render_to_string
from django.urls import get_script_prefix, reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from . import permissions, selectors
from .forms import CommentForm
from .models import Article

MARKER = re.compile(r"<!--(like|act|mod):(\d+):(\d+)(?::(\d):(\d+))?-->")
SLOT = re.compile(r"(<!--slot:(\w+)-->)(.*?)(<!--/slot:\2-->)", re.DOTALL)
# Set by the view before it renders anything: the same mark its cached pages carry.
CSRF_MARK = "\x00csrf\x00"


# --- Slots ------------------------------------------------------------------------------------


def split_at_slots(html: str) -> dict:
    """The page as a list whose items at `slots[name]` hold the slots' (anonymous) contents, so
    a signed-in reader's page is that list with those items replaced, joined."""
    parts, slots, position = [], {}, 0
    for match in SLOT.finditer(html):
        parts.append(html[position : match.start()] + match.group(1))
        slots[match.group(2)] = len(parts)
        parts.append(match.group(3))
        position = match.start(4)
    parts.append(html[position:])
    return {"parts": parts, "slots": slots}


# --- Markers ----------------------------------------------------------------------------------


@functools.cache
def _fixed_urls(script_prefix: str) -> tuple[str, str]:
    """(comment URL prefix, login URL): reversed once per script prefix, the one thing they
    depend on (`reverse` was several percent of a signed-in page)."""
    return reverse("forum:comment-permalink", args=[0])[:-2], reverse("account_login")


def comment_url_prefix() -> str:
    # "/c/0/" → "/c/": every per-comment URL is this prefix + id + suffix, built once.
    return _fixed_urls(get_script_prefix())[0]


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
        lambda: like_button(
            url="",
            count=count,
            liked=False,
            token="",
            login_url=f"{login_url()}?next={url}",
            text=button_text(),
        ),
    )


def article_actions(article: Article, *, count: int, liked: bool, following: bool) -> str:
    """The article's like and follow buttons, as a signed-in reader sees them (`count`: its
    likes as of this request, which the cached article may be older than)."""
    slugs = [article.column.slug, article.slug]  # the forms' URLs: a renamed slug is a new key
    key = ("actions", get_language(), get_script_prefix(), *slugs, count, liked, following)

    def make() -> str:
        like = like_button(
            url=reverse("forum:article-like", args=slugs),
            count=count,
            liked=liked,
            token=CSRF_MARK,
            login_url=login_url(),
            text=button_text(),
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

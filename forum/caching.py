"""The versions of what cached HTML is made of: named, bumped and read here, and nowhere else.

Renderings cached in the shared cache: the article page (forum/views.py) and its threads region
(forum/discussion.py), keyed by `page_key` and `threads_key`; and the listings of the other
pages (the home page's columns and recent discussions, a column's chapters, the first page of a
person's comments), keyed by `fragment_key` and made by `fragment`.

Invariants:
1. Every input of a cached rendering is in its key, directly or through a version:
   - the article's discussion: `Article.thread_version`, bumped in the same transaction as every
     write that changes what a thread shows (forum/services.py, the importer);
   - the people shown in it (display names, avatars): the site-wide "people" version, bumped
     when a user row that already existed is saved for anything but `last_login`, `password`
     or `language` (a login saves only `last_login`), or is deleted;
   - the catalogue (columns' and articles' titles, slugs, order, the chapter links): the
     site-wide "catalogue" version, bumped when a column or article is saved or deleted, and at
     the end of an import (which writes in bulk, past the model signals);
   - the templates and translations the site runs with: `deploy()`, a digest taken once per process,
     so a deploy never serves HTML rendered by the code it replaced;
   - the language, and the page's query *as validated* (`canonical_query`): junk parameters
     are dropped before the key is made, so they can't make new entries.
2. People and catalogue changes are rare next to reads, so they retire every cached page rather
   than finding the pages a person or a column appears on: simple, and always right.
3. A version lives in the cache. If it is evicted it comes back as a new value (the clock in
   nanoseconds), never as an old one, so an eviction can only cause misses, not stale hits.
4. The reader's own state (likes, follow, controls, the CSRF token) is never in a
   cached rendering: it is filled in per request (forum/pagecache.py).
5. A listing's inputs are the site-wide versions — people, catalogue, and "discussions",
   bumped after the commit of every write that moves an article's `thread_version`
   (`discussions_changed`: a comment posted, edited, deleted, hidden or restored, a recount, an
   import), which covers comment counts, last activity and a person's comments — plus the
   deploy, the language and the parts named by the caller, which come from the URL's path or
   the clock only (never from a query string, so they can't be made up): the home page names
   the minute, because it says "active 3 minutes ago".
6. Like counts are not an input of a rendering either: a like bumps `Article.like_version`
   (in its transaction), which keys the small entry of counts put into the page per request
   (`counts_key`); the rendering stays. Only the "top" order depends on likes, and a cached
   "top" thread is sorted again once it is `discussion.TOP_ORDER_SECONDS` old and liked since.
7. Whatever is computed to be kept in the shared cache is read from the newest data: inside
   `filling()`, reads go to the primary even when a read replica serves the request
   (config/replicas.py). A rendering read from a lagging copy but keyed by a version from the
   cache (people, catalogue) would keep the old data under the new version until the next bump.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import time
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import F
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils.translation import get_language

from .models import Article, Column

PEOPLE, CATALOGUE, DISCUSSIONS = "people", "catalogue", "discussions"
_KEYS = {PEOPLE: "v:people", CATALOGUE: "v:catalogue", DISCUSSIONS: "v:discussions"}
# Fields whose change shows on no cached page (a login touches only last_login).
_INVISIBLE_USER_FIELDS = frozenset({"last_login", "password", "language"})


def current() -> dict[str, int]:
    """The site-wide versions, in one cache round trip (two when one has to be made)."""
    found = cache.get_many(_KEYS.values())
    missing = [key for key in _KEYS.values() if key not in found]
    if missing:
        for key in missing:
            cache.add(key, time.time_ns(), timeout=None)
        found = cache.get_many(_KEYS.values())
    return {name: found.get(key, 0) for name, key in _KEYS.items()}


def discussions_changed(article_ids, **changes) -> None:
    """A write to these articles' discussions (in the current transaction): each article's
    `thread_version` moves with `changes` in one UPDATE, and the site-wide "discussions"
    version (the listings: counts, activity, a person's comments) after the commit."""
    Article.objects.filter(pk__in=list(article_ids)).update(
        thread_version=F("thread_version") + 1, **changes
    )
    bump(DISCUSSIONS)


def bump(name: str) -> None:
    """Retire every rendering made with this version, once the current transaction commits.

    After the commit, not before: a reader who read the version between the bump and the
    commit would render the old rows and keep them under the new version."""
    transaction.on_commit(lambda: _incr(_KEYS[name]))


def _incr(key: str) -> None:
    try:
        cache.incr(key)
    except ValueError:  # not in the cache: any new value differs from the lost one
        cache.set(key, time.time_ns(), timeout=None)


@functools.cache
def deploy() -> str:
    """A digest of the templates and compiled translations this process renders with."""
    digest = hashlib.sha1(usedforsecurity=False)
    roots = [Path(settings.BASE_DIR) / "templates", Path(settings.BASE_DIR) / "locale"]
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in {".html", ".txt", ".mo"}:
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def canonical_query(cleaned: dict, *, default_sort: str) -> str:
    """The page's query string from ThreadQueryForm's cleaned values (and a valid permalink
    target), in one order: what the page shows depends on nothing else in the URL."""
    params = {}
    if cleaned.get("sort") and cleaned["sort"] != default_sort:
        params["sort"] = cleaned["sort"]
    if cleaned.get("author"):
        params["author"] = "1"
    if cleaned.get("cursor"):
        params["cursor"] = cleaned["cursor"]
    if cleaned.get("c"):
        params["c"] = str(cleaned["c"])
    return urlencode(params)


def _versions(article_pk: int, thread_version: int, versions: dict[str, int]) -> str:
    return f"{article_pk}:{thread_version}:{versions[PEOPLE]}:{versions[CATALOGUE]}:{deploy()}"


def page_key(*, article_pk: int, thread_version: int, versions: dict, query: str) -> str:
    digest = hashlib.sha1(query.encode(), usedforsecurity=False).hexdigest()
    return f"page:{_versions(article_pk, thread_version, versions)}:{get_language()}:{digest}"


def threads_key(*, article_pk: int, thread_version: int, versions: dict, shape: tuple) -> str:
    parts = ":".join(str(part) for part in shape)
    return f"threads:{_versions(article_pk, thread_version, versions)}:{get_language()}:{parts}"


def etag_key(page_key: str) -> str:
    """The id of the rendering kept under `page_key` (set with it): what a revalidation reads
    instead of the page."""
    return f"{page_key}:etag"


def fragment_key(name: str, *parts: object) -> str:
    """The key of a listing (invariant 5): its name, every site-wide version, the deploy, the
    language and the caller's `parts`."""
    versions = current()
    # Digested: a part may be a slug from the path, which can hold any character and length.
    named = hashlib.sha1(
        "\x1f".join(str(part) for part in parts).encode(), usedforsecurity=False
    ).hexdigest()
    return (
        f"frag:{name}:{versions[PEOPLE]}:{versions[CATALOGUE]}:{versions[DISCUSSIONS]}:"
        f"{deploy()}:{get_language()}:{named}"
    )


# A listing outlives no version, and this long at most.
FRAGMENT_SECONDS = 600


_filling: contextvars.ContextVar[bool] = contextvars.ContextVar("filling", default=False)


@contextlib.contextmanager
def filling():
    """The block computes what will be kept in the shared cache: its reads see the newest data
    (invariant 7)."""
    token = _filling.set(True)
    try:
        yield
    finally:
        _filling.reset(token)


def is_filling() -> bool:
    return _filling.get()


def fragment(key: str, render):
    """What is cached under `key`, or what `render()` returns (HTML, or a dict of parts), kept
    for next time. Rendered HTML stays marked safe: a SafeString pickles as itself."""
    value = cache.get(key)
    if value is None:
        with filling():
            value = render()
        cache.set(key, value, FRAGMENT_SECONDS)
    return value


def counts_key(page_key: str, *, like_version: int) -> str:
    """The like counts shown on a cached page: its key (thread version and all, since an
    import or a recount also moves counts) and the article's `like_version`."""
    return f"{page_key}:likes:{like_version}"


# --- what bumps the site-wide versions -------------------------------------------------------


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="caching-people-saved")
def _person_saved(sender, instance, created, update_fields=None, **kwargs):
    if created:
        return  # a new account is on no page yet
    if update_fields is not None and set(update_fields) <= _INVISIBLE_USER_FIELDS:
        return
    bump(PEOPLE)


@receiver(post_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="caching-people-deleted")
def _person_deleted(sender, instance, **kwargs):
    bump(PEOPLE)


@receiver(post_save, sender=Column, dispatch_uid="caching-column-saved")
@receiver(post_delete, sender=Column, dispatch_uid="caching-column-deleted")
@receiver(post_save, sender=Article, dispatch_uid="caching-article-saved")
@receiver(post_delete, sender=Article, dispatch_uid="caching-article-deleted")
def _catalogue_changed(sender, **kwargs):
    # The discussion's own writes to an article (counts, thread_version) are UPDATEs, which
    # send no signal: a save here is the admin's or a service's edit of the article itself.
    bump(CATALOGUE)

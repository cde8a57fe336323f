"""Thin views: parse and check at the edge, call a service or selector, render.

Every interaction is a plain form or link first; htmx requests get a named partial of the same
template instead of the whole page.
"""

from __future__ import annotations

import copy
import secrets
import time

from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.cache import cache
from django.http import HttpResponse, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import get_conditional_response, patch_cache_control, patch_vary_headers
from django.utils.html import escape, format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import ratelimit
from accounts import selectors as account_selectors

from . import caching, pagecache, pagination, permissions, policy, selectors, services
from .discussion import render_comment, render_threads, thread_context
from .enums import CommentSort, CommentStatus
from .forms import CommentForm, ThreadQueryForm
from .models import Article
from .pagecache import (
    CSRF_MARK,
    like_button_for,
    personalize,
    split_at_slots,
    split_for_readers,
    threads_for_everyone,
    threads_for_reader,
)

TEMPLATE = "forum/article_detail.html"


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ["HX-Request"])
    return response


def _bad_request(request, message: str) -> HttpResponse:
    return render(request, "400.html", {"message": message}, status=400)


def _login_required(request, next_url: str) -> HttpResponse:
    """Anonymous → the login page, coming back to `next_url` (htmx follows with HX-Redirect)."""
    response = redirect_to_login(next_url)
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": response.url})
    return response


@require_GET
def home(request):
    # The listing says "active 3 minutes ago": the minute is one of its inputs.
    key = caching.fragment_key("home", int(time.time() // 60))
    listing = caching.fragment(
        key,
        lambda: render_to_string(
            "forum/home.html#listing",
            {
                "columns": selectors.list_columns(),
                "recent_articles": selectors.list_recently_discussed_articles(),
            },
        ),
    )
    return render(request, "forum/home.html", {"listing": listing})


@require_GET
def profile(request, pk: int):
    before = request.GET.get("before")
    if before is None:
        key = caching.fragment_key("profile", pk)
        parts = caching.fragment(key, lambda: _render_profile(pk, before=None))
    else:  # older pages are named by a cursor from the query string: never kept
        try:
            parts = _render_profile(pk, before=before)
        except pagination.BadCursor:
            return _bad_request(request, _("This “older” link is broken or outdated."))
    return render(request, "accounts/profile.html", {**parts, "own": request.user.pk == pk})


def _render_profile(pk: int, *, before: str | None) -> dict:
    """The profile's parts that are the same for every reader (a 404 keeps nothing)."""
    person = account_selectors.get_profile_user(pk=pk)
    page = selectors.list_user_comments(user=person, before=before)
    context = {"profile_user": person, "comments_page": page}
    return {
        "title": person.display_name,
        "head": render_to_string("accounts/profile.html#head", context),
        "listing": render_to_string("accounts/profile.html#listing", context),
    }


@require_GET
def column_detail(request, slug: str):
    # Keyed by the slug of the path: a rename is a catalogue change, so an old slug's entry is
    # never read again, and a slug that finds no column keeps nothing.
    parts = caching.fragment(caching.fragment_key("column", slug), lambda: _render_column(slug))
    following = request.user.is_authenticated and selectors.follows(
        user=request.user, column=parts["pk"]
    )
    return render(
        request, "forum/column_detail.html", {**parts, "slug": slug, "following": following}
    )


def _render_column(slug: str) -> dict:
    """The column page's parts that are the same for every reader (a 404 keeps nothing)."""
    column = selectors.get_column(slug=slug)
    context = {"column": column, "chapters": selectors.list_chapters(column)}
    return {
        "pk": column.pk,
        "title": column.title,
        "head": render_to_string("forum/column_detail.html#head", context),
        "chapters": render_to_string("forum/column_detail.html#chapters", context),
    }


@require_GET
def article_detail(request, column_slug: str, slug: str):
    """The article page, rendered once per discussion version, language and URL.

    The cached page is the anonymous reader's, served as it is (with its like counts) and with
    an ETag, so an unchanged page is a 304. A signed-in reader gets the same page with its
    few personal regions ("slots": the CSRF token, the header's user menu, the like/follow
    buttons, the comment form, the threads' own state) filled in for them: from the one query
    that finds the page (their likes and follow come with the version), the cached threads'
    markers, and fragments rendered once per process (all of it in `pagecache`).
    """
    query = ThreadQueryForm.cleaned(request.GET)
    if request.htmx or len(messages.get_messages(request)) or query is None:
        return _article_page(
            request, selectors.get_article_page(column_slug=column_slug, slug=slug)
        )
    # The key is made from the validated query alone: other parameters make no new entries.
    canonical = caching.canonical_query(
        {**query, "c": _permalink_target(request)}, default_sort=CommentSort.TOP
    )
    state = selectors.get_article_version(column_slug=column_slug, slug=slug, reader=request.user)
    key = caching.page_key(
        article_pk=state.pk,
        thread_version=state.thread_version,
        versions=caching.current(),
        query=canonical,
    )
    signed_in = state.reader_pk is not None
    counts_key = caching.counts_key(key, like_version=state.like_version)
    # One round trip for the page, its like counts and what a signed-in reader's header needs.
    extra_keys = (
        [permissions.verified_cache_key(state.reader_pk), *pagecache.unread_keys(state.reader_pk)]
        if signed_in
        else []
    )
    etag_key = caching.etag_key(key)
    if not signed_in and "HTTP_IF_NONE_MATCH" in request.META:
        # Revalidation: the rendering's id alone (a few bytes, not the page) answers it.
        rendering = cache.get(etag_key)
        if rendering is not None:
            etag = _etag(rendering, state)
            not_modified = get_conditional_response(request, etag=etag)
            if not_modified is not None:
                return _anonymous_headers(not_modified, etag)
    found = cache.get_many([key, counts_key, *extra_keys])
    entry = found.get(key)
    if entry is None:
        with caching.filling():
            entry, response = _render_page_entry(
                request, column_slug=column_slug, slug=slug, query=canonical
            )
        if entry is None:
            return response
        cache.set_many({key: entry, etag_key: entry["id"]}, ANONYMOUS_PAGE_SECONDS)
        found[counts_key] = entry["counts"]
        cache.set(counts_key, entry["counts"], ANONYMOUS_PAGE_SECONDS)
    counts = found.get(counts_key)
    if counts is None:
        # The first request since a like: one small query, bounded by the page.
        with caching.filling():
            counts = selectors.like_counts(comment_ids=entry["threads"]["like_at"])
        cache.set(counts_key, counts, ANONYMOUS_PAGE_SECONDS)
    if signed_in:
        user = request.user
        permissions.remember_verified(user, found.get(extra_keys[0]))
        unread = pagecache.unread_for(user, found)
        html = "".join(_fill_slots(request, entry, state, unread=unread, counts=counts))
        return _vary(HttpResponse(html.replace(CSRF_MARK, get_token(request))))
    # Anonymous: the page holds nothing of this request (no CSRF token, no CSP nonce), so its
    # ETag names its bytes — the rendering (a fresh id each time it is rendered, since a page
    # also expires for reasons no version sees: a new chapter's "next" link) and the counts put
    # in it — and a browser, proxy or CDN that has them is told 304 without a byte of HTML made.
    etag = _etag(entry["id"], state)
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        return _anonymous_headers(not_modified, etag)
    parts = list(entry["parts"])
    slots = entry["slots"]
    parts[slots["threads"]] = threads_for_everyone(entry["anonymous"], counts=counts)
    parts[slots["article_actions"]] = pagecache.article_like_link(
        entry["article"], count=state.article_likes
    )
    return _anonymous_headers(HttpResponse("".join(parts)), etag)


def _etag(rendering: str, state: selectors.ArticleVersion) -> str:
    return f'"{rendering}-{state.like_version}-{state.article_likes}"'


def _anonymous_headers(response: HttpResponse, etag: str) -> HttpResponse:
    """Any cache may keep an anonymous reader's page, and must ask again before using it (the
    304 above makes asking cheap); Vary (HX-Request here, Cookie and Accept-Language from the
    session and locale middleware) keeps signed-in readers and languages apart."""
    response.headers["ETag"] = etag
    patch_cache_control(response, public=True, no_cache=True)
    return _vary(response)


# A new chapter changes its neighbours' "next" links without touching their discussions: a
# cached page lives this long at most.
ANONYMOUS_PAGE_SECONDS = 300


def _render_page_entry(request, *, column_slug: str, slug: str, query: str):
    """(the page's cache entry, the anonymous response it came from), or (None, the response
    to give instead: an error page, or a page that can't be shared).

    The page is rendered for an anonymous reader at the canonical URL (`query`, the validated
    parameters), so nothing of this request's own URL or person is in what is kept; an
    anonymous page has no form, so no CSRF token either (a signed-in reader's token goes into
    their slots, as CSRF_MARK, per request)."""
    article = selectors.get_article_page(column_slug=column_slug, slug=slug)
    signed_in = request.user.is_authenticated
    anonymous = copy.copy(request)
    anonymous.user = AnonymousUser()
    anonymous.GET = QueryDict(query)
    anonymous.META = {**request.META, "QUERY_STRING": query}
    context = _page_context(anonymous, article)
    if isinstance(context, HttpResponse):
        return None, _article_page(request, article) if signed_in else context
    response = _vary(render(anonymous, TEMPLATE, context))
    shell = response.content.decode()
    if "csrfmiddlewaretoken" in shell:  # a form for anonymous readers: not the same for all
        return None, _article_page(request, article) if signed_in else response
    entry = {
        **split_at_slots(shell),
        "id": secrets.token_hex(6),
        "article": article,
        "threads": split_for_readers(context["threads_raw_html"], token=CSRF_MARK),
        "anonymous": split_for_readers(context["threads_raw_html"], token="", can_write=False),
        # The counts it was made with, which serve until the next like.
        "counts": context["threads_counts"],
    }
    return entry, response


def _fill_slots(
    request, entry: dict, state: selectors.ArticleVersion, *, unread: int, counts: dict
) -> list:
    user, article = request.user, entry["article"]
    if permissions.can_write(user):
        form = pagecache.comment_form(article)
    else:
        form = render_to_string(
            f"{TEMPLATE}#comment_form",
            {
                "article": article,
                "can_write": False,
                "suspension": permissions.suspension_message(user) if user.is_suspended else "",
                "user": user,
                "csrf_token": CSRF_MARK,
            },
        )
    if state.has_held:  # rare: one more query, for this reader's held comments only
        held = selectors.held_comments(article=article, reader=user)
        form += render_to_string(f"{TEMPLATE}#held_comments", {"held": held})
    rendered = {
        "csrf_meta": f'<meta name="csrf-token" content="{CSRF_MARK}">',
        "nav_user": pagecache.nav_user(user, unread=unread),
        "article_actions": pagecache.article_actions(
            article, count=state.article_likes, liked=state.article_liked, following=state.following
        ),
        "comment_form": form,
        "threads": threads_for_reader(
            request,
            entry["threads"],
            article=article,
            liked=state.liked_comment_ids,
            token=CSRF_MARK,
            counts=counts,
        ),
    }
    parts = list(entry["parts"])
    for name, index in entry["slots"].items():
        parts[index] = rendered[name]
    return parts


def _article_page(request, article: Article, *, comment_form=None, status: int = 200):
    context = _page_context(request, article, comment_form=comment_form)
    if isinstance(context, HttpResponse):
        return context
    return _vary(render(request, TEMPLATE, context, status=status))


def _page_context(request, article: Article, *, comment_form=None) -> dict | HttpResponse:
    """Everything the article page shows, or the response that replaces it (a 400, or the
    threads alone for htmx's "load more")."""
    query = ThreadQueryForm(request.GET)
    if not query.is_valid():
        return _bad_request(
            request, " ".join(e for errors in query.errors.values() for e in errors)
        )
    sort, author_only = query.cleaned_data["sort"], query.cleaned_data["author"]
    try:
        cursor = (
            selectors.Cursor.decode(query.cleaned_data["cursor"], sort=sort)
            if query.cleaned_data["cursor"]
            else None
        )
    except selectors.BadCursor:
        return _bad_request(request, _("This “load more” link is broken or outdated."))
    target = _permalink_target(request)
    start_at = selectors.get_thread_root(article=article, comment_id=target) if target else None

    threads = render_threads(
        request,
        article=article,
        sort=sort,
        author_only=author_only,
        cursor=cursor,
        start_at=start_at,
    )
    if request.htmx and cursor and not request.htmx.history_restore_request:
        return _vary(HttpResponse(threads.html))

    context = {
        "article": article,
        "threads_html": threads.html,
        "threads_raw_html": threads.raw_html,
        "threads_counts": threads.counts,
        "sort": sort,
        "sorts": [
            (value, label)
            for value, label in CommentSort.choices
            if value != CommentSort.ORIGINAL or article.legacy_key
        ],
        "author_only": author_only,
        "start_at": start_at,
        "can_write": permissions.can_write(request.user),
        "suspension": (
            permissions.suspension_message(request.user)
            if request.user.is_authenticated and request.user.is_suspended
            else ""
        ),
        "comment_form": comment_form or CommentForm(),
        "article_like_button": _article_like_button(request, article, threads.article_liked),
        "following": selectors.follows(user=request.user, article=article),
        "held": selectors.held_comments(article=article, reader=request.user),
    }
    return context


def _permalink_target(request) -> int | None:
    """A permalink's target (?c=ID): the page starts at its thread. Anything else is ignored."""
    target = request.GET.get("c", "")
    return int(target) if target.isdecimal() and len(target) < 19 else None


def _article_like_button(request, article: Article, liked: bool):
    url = reverse("forum:article-like", args=[article.column.slug, article.slug])
    return like_button_for(
        request,
        url=url,
        count=article.total_like_count,
        liked=liked,
        next_url=article.get_absolute_url(),
    )


@require_POST
def comment_create(request, column_slug: str, slug: str):
    article = selectors.get_article_page(column_slug=column_slug, slug=slug)
    if not request.user.is_authenticated:
        return _login_required(request, article.get_absolute_url())
    permissions.check_can_write(request.user)
    form = CommentForm(request.POST)
    _refuse_duplicate(request, form)
    if not form.is_valid():
        if request.htmx:
            return _vary(_form_partial(request, article, form, status=400))
        return _article_page(request, article, comment_form=form, status=400)
    ratelimit.hit(request, "comment")
    comment = services.post_comment(
        article=article, author=request.user, body=form.cleaned_data["body"]
    )
    if comment.status == CommentStatus.HELD:
        message = _(
            "Thank you. Your comment awaits a moderator’s review; it will appear once approved."
        )
        if request.htmx:
            form_html = _form_partial(request, article, CommentForm()).content.decode()
            notice = format_html('<p class="notice" role="status">{}</p>', message)
            return _vary(HttpResponse(notice + form_html))
        messages.info(request, message)
        return redirect(f"{article.get_absolute_url()}#discussion")
    if request.htmx:
        comment.article = article
        new_thread = format_html(
            '<li class="thread" id="t-{}">{}</li>', comment.pk, render_comment(request, comment)
        )
        return _vary(_form_partial(request, article, CommentForm(), new_thread=new_thread))
    return redirect(comment.get_absolute_url())


def _refuse_duplicate(request, form: CommentForm) -> None:
    """The same text again from the same person, within minutes: refused as a form error."""
    if form.is_valid() and policy.is_duplicate(author=request.user, body=form.cleaned_data["body"]):
        form.add_error("body", _("You just posted this. Edit it instead of posting it again."))


def _form_partial(request, article, form, *, status: int = 200, new_thread=None) -> HttpResponse:
    if new_thread is not None:
        article.refresh_from_db(fields=["comment_count"])
    return render(
        request,
        f"{TEMPLATE}#comment_form",
        {
            "article": article,
            "comment_form": form,
            "can_write": permissions.can_write(request.user),
            "new_thread": new_thread,
        },
        status=status,
    )


@require_POST
def comment_preview(request):
    if not permissions.can_write(request.user):
        return HttpResponse(_("Log in with a verified email to preview."), status=403)
    ratelimit.hit(request, "preview")
    form = CommentForm(request.POST)
    valid = form.is_valid()
    if request.htmx:
        if not valid:
            errors = " ".join(form.errors.get("body", []))
            return HttpResponse(f'<p class="error">{escape(errors)}</p>', status=400)
        return HttpResponse(services.render_comment(form.cleaned_data["body"]))
    # Without JavaScript the preview is a page of its own: it carries the form, text and all,
    # so the reader posts (or edits and previews again) from there. The comment form says
    # which chapter it belongs to.
    article = selectors.get_article(
        column_slug=request.POST.get("column", ""), slug=request.POST.get("article", "")
    )
    html = services.render_comment(form.cleaned_data["body"]) if valid else ""
    context = {"preview": mark_safe(html), "form": form, "article": article}  # noqa: S308
    return render(request, "forum/comment_preview.html", context, status=200 if valid else 400)


# Why a permalink lands on no comment: said on the page it lands on (never the comment's text).
_GONE_MESSAGES = {
    CommentStatus.REMOVED: gettext_lazy("This comment has been deleted."),
    CommentStatus.HIDDEN: gettext_lazy("This comment was hidden by a moderator."),
    CommentStatus.HELD: gettext_lazy("This comment is waiting for a moderator’s review."),
}


def comment_permalink(request, pk: int):
    comment = selectors.get_comment_for_permalink(pk=pk)
    url = comment.article.get_absolute_url()
    if comment.status == CommentStatus.HELD and comment.author_id == request.user.pk:
        return redirect(f"{url}#held-{comment.pk}")  # its author sees it there, marked waiting
    gone = _GONE_MESSAGES.get(comment.status)
    if gone:
        messages.info(request, gone)
        if not comment.reply_count:  # no "[deleted]" tombstone holds its place in the thread
            return redirect(f"{url}#discussion")
    return redirect(f"{url}?c={comment.pk}#c-{comment.pk}")


@require_http_methods(["GET", "POST"])
def comment_reply(request, pk: int):
    parent = selectors.get_comment(pk=pk)
    if not request.user.is_authenticated:
        return _login_required(request, parent.get_absolute_url())
    permissions.check_can_write(request.user)
    permissions.check_can_reply_to(parent)
    auto_id = f"id_reply{parent.pk}_%s"
    if request.method == "POST":
        form = CommentForm(request.POST, auto_id=auto_id)
        _refuse_duplicate(request, form)
        if form.is_valid():
            ratelimit.hit(request, "comment")
            reply = services.post_comment(
                article=parent.article,
                author=request.user,
                body=form.cleaned_data["body"],
                parent=parent,
            )
            if reply.status == CommentStatus.HELD:
                message = _("Your reply awaits a moderator’s review; it will appear once approved.")
                if request.htmx:
                    notice = format_html('<p class="notice" role="status">{}</p>', message)
                    return _vary(HttpResponse(notice))
                messages.info(request, message)
                return redirect(parent.get_absolute_url())
            if request.htmx:
                # The slot closes; the reply joins the ones posted under this comment.
                reply.article, reply.parent = parent.article, parent
                context = {
                    "parent": parent,
                    "form": None,
                    "new_reply": render_comment(request, reply),
                }
                return _vary(render(request, "forum/comment_reply.html#form", context))
            return redirect(reply.get_absolute_url())
        status = 400
    elif "close" in request.GET:
        # Cancel: htmx closes the reply box in place; without it, back to the comment.
        if not request.htmx:
            return redirect(parent.get_absolute_url())
        context = {"parent": parent, "form": None}
        return _vary(render(request, "forum/comment_reply.html#form", context))
    else:
        form, status = CommentForm(auto_id=auto_id), 200
    template = "forum/comment_reply.html#form" if request.htmx else "forum/comment_reply.html"
    return _vary(render(request, template, {"parent": parent, "form": form}, status=status))


@require_http_methods(["GET", "POST"])
def comment_edit(request, pk: int):
    comment = selectors.get_comment(pk=pk)
    if not request.user.is_authenticated:
        return _login_required(request, comment.get_absolute_url())
    permissions.check_can_edit_comment(request.user, comment)
    auto_id = f"id_edit{comment.pk}_%s"
    if request.method == "POST":
        form = CommentForm(request.POST, auto_id=auto_id)
        if form.is_valid():
            ratelimit.hit(request, "write")
            services.edit_comment(comment=comment, body=form.cleaned_data["body"])
            if request.htmx:
                return _vary(HttpResponse(render_comment(request, comment)))
            return redirect(comment.get_absolute_url())
        status = 400
    elif "close" in request.GET:
        # Cancel: htmx puts the comment back in place of the edit box; without it, back to it.
        if not request.htmx:
            return redirect(comment.get_absolute_url())
        return _vary(HttpResponse(render_comment(request, comment)))
    else:
        form, status = CommentForm(initial={"body": comment.body_md}, auto_id=auto_id), 200
    template = "forum/comment_edit.html#form" if request.htmx else "forum/comment_edit.html"
    return _vary(render(request, template, {"comment": comment, "form": form}, status=status))


@require_http_methods(["GET", "POST"])
def comment_delete(request, pk: int):
    comment = selectors.get_comment(pk=pk)
    if not request.user.is_authenticated:
        return _login_required(request, comment.get_absolute_url())
    permissions.check_can_edit_comment(request.user, comment)
    if request.method == "POST":
        ratelimit.hit(request, "write")
        services.delete_comment(comment=comment)
        if request.htmx:
            return _vary(
                HttpResponse(render_comment(request, comment) if comment.reply_count else "")
            )
        messages.success(request, _("Your comment was deleted."))
        return redirect(f"{comment.article.get_absolute_url()}#discussion")
    return render(request, "forum/comment_delete.html", {"comment": comment})


@require_POST
def comment_like(request, pk: int):
    comment = selectors.get_comment(pk=pk)
    if not request.user.is_authenticated:
        return _login_required(request, comment.get_absolute_url())
    permissions.check_can_write(request.user)
    if comment.status != CommentStatus.VISIBLE:
        return HttpResponse(_("This comment is no longer visible."), status=409)
    ratelimit.hit(request, "like")
    liked = services.toggle_like(user=request.user, comment=comment)
    if request.htmx:
        comment.refresh_from_db(fields=["like_count"])
        url = reverse("forum:comment-like", args=[comment.pk])
        return HttpResponse(
            like_button_for(
                request,
                url=url,
                count=comment.total_like_count,
                liked=liked,
                next_url=comment.get_absolute_url(),
            )
        )
    return redirect(_safe_next(request) or comment.get_absolute_url())


@require_POST
def article_like(request, column_slug: str, slug: str):
    article = selectors.get_article(column_slug=column_slug, slug=slug)
    if not request.user.is_authenticated:
        return _login_required(request, article.get_absolute_url())
    permissions.check_can_write(request.user)
    ratelimit.hit(request, "like")
    liked = services.toggle_like(user=request.user, article=article)
    if request.htmx:
        article.refresh_from_db(fields=["like_count"])
        return HttpResponse(_article_like_button(request, article, liked))
    return redirect(article.get_absolute_url())


def _safe_next(request) -> str | None:
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, request.is_secure()
    ):
        return target
    return None


@require_POST
def comment_feature(request, pk: int):
    comment = selectors.get_comment(pk=pk)
    if not request.user.is_authenticated:
        return _login_required(request, comment.get_absolute_url())
    permissions.check_can_feature(request.user, comment.article)
    if comment.parent_id is not None or comment.status != CommentStatus.VISIBLE:
        return _bad_request(request, _("Only visible top-level comments can be featured."))
    if request.POST.get("featured") not in ("0", "1"):
        return _bad_request(request, _("Say whether to feature (1) or unfeature (0)."))
    featured = request.POST["featured"] == "1"
    ratelimit.hit(request, "write")
    services.set_comment_featured(comment=comment, featured=featured, by=request.user)
    if request.htmx:
        return HttpResponse(headers={"HX-Refresh": "true"})
    return redirect(comment.get_absolute_url())


@require_GET
def comment_replies(request, pk: int):
    root = selectors.get_comment(pk=pk)
    if root.parent_id is not None:
        return _bad_request(request, _("Only a thread's first comment has a reply list."))
    if not request.htmx:
        return redirect(root.get_absolute_url())
    replies = selectors.get_more_replies(root=root)
    html = render_to_string(
        f"{TEMPLATE}#replies", {"replies": replies, "article": root.article, **thread_context()}
    )
    comments = [(c.pk, c.author_id) for c in replies]
    return _vary(HttpResponse(personalize(request, html, article=root.article, comments=comments)))

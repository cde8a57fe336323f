"""A signed-in reader's article page: the cached page, with their own state filled in.

The page is found, and the reader's likes and follow are read, by one query; the header, the
like/follow buttons and the comment form come from fragments rendered once per process; the
threads from parts pre-filled for "a writer who liked and wrote nothing", with the reader's own
comments and likes filled again (forum/pagecache.py). These tests hold that page to what a full
rendering shows.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from forum import pagecache, selectors, services
from moderation import services as moderation_services
from notifications import services as notification_services
from tests.events import dispatch_events
from tests.factories import ArticleFactory, CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

LIKED = re.compile(r'class="like is-liked"')
EDIT = re.compile(r'href="/c/(\d+)/edit/"')
REPORT = re.compile(r'href="/c/(\d+)/report/"')


def _state(article, reader):
    return selectors.get_article_version(
        column_slug=article.column.slug, slug=article.slug, reader=reader
    )


def test_one_query_reads_the_version_and_all_the_readers_likes_and_follow(article, reader):
    other_article = ArticleFactory(column=article.column, slug="other", position=2)
    mine = [CommentFactory(article=article) for _ in range(3)]
    deep = CommentFactory(parent=CommentFactory(parent=mine[0]))
    elsewhere = CommentFactory(article=other_article)
    for comment in (mine[0], mine[2], deep, elsewhere):
        services.toggle_like(user=reader, comment=comment)
    services.toggle_like(user=UserFactory(), comment=mine[1])  # someone else's like
    services.toggle_like(user=reader, article=article)
    notification_services.toggle_follow(user=reader, article=article)
    article.refresh_from_db()
    column_slug = article.column.slug

    with CaptureQueriesContext(connection) as queries:
        state = selectors.get_article_version(
            column_slug=column_slug, slug=article.slug, reader=reader
        )

    assert len(queries) == 1, [q["sql"] for q in queries]
    assert state.pk == article.pk
    assert state.thread_version == article.thread_version
    assert state.reader_pk == reader.pk
    assert state.liked_comment_ids == {mine[0].pk, mine[2].pk, deep.pk}
    assert state.article_liked is True
    assert state.following is True


def test_a_reader_with_no_likes_or_follow_gets_one_row_and_empty_state(article, reader):
    CommentFactory(article=article)
    services.toggle_like(user=UserFactory(), article=article)

    state = _state(article, reader)

    assert state.liked_comment_ids == frozenset()
    assert (state.article_liked, state.following) == (False, False)


def test_anonymous_and_unpublished(article, reader):
    from django.contrib.auth.models import AnonymousUser

    state = _state(article, AnonymousUser())
    assert (state.pk, state.reader_pk, state.liked_comment_ids) == (article.pk, None, frozenset())

    article.is_published = False
    article.save()
    with pytest.raises(Http404):
        _state(article, reader)
    with pytest.raises(Http404):
        selectors.get_article_version(column_slug="nope", slug=article.slug)


def test_cached_signed_in_page_takes_two_queries_and_shows_the_readers_own_state(
    client, article, reader, other_reader
):
    own = CommentFactory(article=article, author=reader, body="my own words")
    others = [CommentFactory(article=article, author=other_reader) for _ in range(4)]
    reply = CommentFactory(parent=others[0], author=reader)
    for comment in (others[1], others[3], reply):
        services.toggle_like(user=reader, comment=comment)
    notification_services.toggle_follow(user=reader, article=article)
    client.get(article.get_absolute_url())  # an anonymous visit fills the cache
    client.force_login(reader)
    client.get(article.get_absolute_url())  # the session and the verified flag, cached

    with CaptureQueriesContext(connection) as queries:
        page = client.get(article.get_absolute_url())

    assert page.status_code == 200
    assert len(queries) == 2, [q["sql"] for q in queries]  # the user, the page's state
    html = page.text
    assert len(LIKED.findall(html)) == 3
    for pk in (others[1].pk, others[3].pk, reply.pk):
        assert f'action="/c/{pk}/like/"' in html
    assert {int(pk) for pk in EDIT.findall(html)} == {own.pk, reply.pk}
    assert {int(pk) for pk in REPORT.findall(html)} == {c.pk for c in others}
    assert 'aria-pressed="true">Following' in html
    assert 'class="form comment-form"' in html
    assert 'data-testid="header-user"' in html
    assert "\x00" not in html
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
    assert html.count(token) >= 3  # every form carries this request's token


def test_the_header_follows_the_readers_name_bell_and_language(client, article, reader):
    client.force_login(reader)
    client.get(article.get_absolute_url())

    reader.display_name = "renamed_reader"
    reader.save()
    CommentFactory(parent=CommentFactory(article=article, author=reader))  # a reply: the bell
    dispatch_events()  # the worker writes the notification
    page = client.get(article.get_absolute_url())
    chinese = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert "renamed_reader" in page.text
    assert re.search(r'data-testid="bell-count">1<', page.text)
    assert '<button type="submit" class="link-button">退出</button>' in chinese.text


def test_article_author_and_moderator_get_their_controls_on_the_cached_page(
    client, article, column_author, moderator, reader
):
    root = CommentFactory(article=article, author=reader)
    client.get(article.get_absolute_url())

    client.force_login(column_author)
    as_author = client.get(article.get_absolute_url()).text
    client.force_login(moderator)
    as_moderator = client.get(article.get_absolute_url()).text

    assert f'action="/c/{root.pk}/feature/"' in as_author
    assert f'href="/c/{root.pk}/hide/"' in as_author  # the column's author moderates it
    assert f'href="/c/{root.pk}/hide/"' in as_moderator
    assert f'href="/c/{root.pk}/edit/"' not in as_moderator


def test_unverified_and_suspended_readers_are_told_why_they_cannot_write(
    client, article, unverified_user, reader, moderator
):
    CommentFactory(article=article)
    client.get(article.get_absolute_url())

    client.force_login(unverified_user)
    unverified = client.get(article.get_absolute_url()).text
    moderation_services.suspend_user(
        user=reader, by=moderator, until=timezone.now() + timedelta(days=3), reason="spam"
    )
    client.force_login(reader)
    suspended = client.get(article.get_absolute_url()).text

    assert "Verify your email address to take part in discussions." in unverified
    assert 'class="form comment-form"' not in unverified
    assert "/report/" not in unverified
    assert "suspended until" in suspended and "spam" in suspended
    assert 'class="form comment-form"' not in suspended


@pytest.mark.parametrize("who", ["plain", "author", "moderator", "unverified"])
def test_prefilled_threads_equal_a_full_personalisation(
    rf, article, reader, column_author, moderator, unverified_user, who
):
    person = {
        "plain": reader,
        "author": column_author,
        "moderator": moderator,
        "unverified": unverified_user,
    }[who]
    roots = [CommentFactory(article=article, author=a) for a in (reader, column_author, reader)]
    replies = [CommentFactory(parent=roots[0], author=a) for a in (column_author, reader)]
    services.set_comment_featured(comment=roots[1], featured=True, by=column_author)
    everything = roots + replies
    liked = {roots[1].pk, replies[0].pk}
    html = (
        "".join(
            f"<p><!--like:{c.pk}:{c.like_count}-->"
            f"<!--act:{c.pk}:{0 if c.depth else 1}:{int(c.is_featured)}:{c.author_id}--></p>"
            for c in everything
        )
        + f"<!--mod:{roots[2].pk}:0-->"
    )
    request = rf.get("/")
    request.user = person

    # Counts as of this request, newer than the rendering: one liked, one not, one unknown.
    counts = {roots[1].pk: 7, roots[2].pk: 3}

    split = pagecache.split_for_readers(html, token="TOKEN")
    fast = pagecache.threads_for_reader(
        request, split, article=article, liked=liked, token="TOKEN", counts=counts
    )
    full = pagecache.personalize(
        request,
        html,
        article=article,
        comments=[(c.pk, c.author_id) for c in everything],
        liked=liked,
        counts=counts,
    )
    assert '<span class="like-count">7</span>' in fast
    assert '<span class="like-count">3</span>' in fast

    # The full pass carries this request's token where the pre-filled parts left a placeholder.
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', full).group(1)
    assert fast.replace("TOKEN", token) == full
    assert "<!--" not in fast


def test_threads_for_everyone_equal_an_anonymous_personalisation(rf, article, reader):
    comments = [CommentFactory(article=article, author=reader) for _ in range(3)]
    html = "".join(
        f"<p><!--like:{c.pk}:{c.like_count}-->"
        f"<!--act:{c.pk}:1:0:{c.author_id}--></p><!--mod:{c.pk}:0-->"
        for c in comments
    )
    request = rf.get("/")
    request.user = AnonymousUser()
    counts = {comments[0].pk: 12}

    split = pagecache.split_for_readers(html, token="", can_write=False)
    fast = pagecache.threads_for_everyone(split, counts=counts)
    full = pagecache.personalize(
        request,
        html,
        article=article,
        comments=[(c.pk, c.author_id) for c in comments],
        counts=counts,
    )

    assert fast == full
    assert fast.count('<span class="like-count">12</span>') == 1
    assert fast.count('<span class="like-count">0</span>') == 2
    assert "<!--" not in fast and "/login/?next=" in fast


def test_fragment_memo_keeps_the_most_recently_used():
    from forum.pagecache import Memo

    memo, made = Memo(maxsize=2), []

    def make(value):
        return lambda: made.append(value) or value

    memo.get("a", make("A"))
    memo.get("b", make("B"))
    assert memo.get("a", make("A again")) == "A"  # kept, and now the most recent
    memo.get("c", make("C"))  # evicts "b", the least recently used
    assert memo.get("b", make("B again")) == "B again"
    assert made == ["A", "B", "C", "B again"]

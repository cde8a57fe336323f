"""The discussion's reading side: order, filters, pages, permalinks, and bounded queries."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from forum import selectors, services
from forum.enums import CommentSort, CommentStatus
from forum.models import Comment
from tests.factories import ArticleFactory, CommentFactory, UserFactory
from tests.forum.discussion_builder import build_discussion

pytestmark = pytest.mark.django_db


def thread_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="thread" id="t-(\d+)"', html)]


def comment_ids(html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<article class="comment[^"]*" id="c-(\d+)"', html)]


# --- Order ---------------------------------------------------------------------------------


def test_roots_sort_by_likes_then_newest_with_featured_first(article):
    low, high, featured = (CommentFactory(article=article) for _ in range(3))
    for _ in range(3):
        services.toggle_like(user=UserFactory(), comment=high)
    services.toggle_like(user=UserFactory(), comment=low)
    services.set_comment_featured(comment=featured, featured=True)

    page = selectors.get_thread_page(article=article, sort=CommentSort.TOP)

    assert [root.pk for root in page.roots] == [featured.pk, high.pk, low.pk]


def test_legacy_likes_add_to_the_count_and_the_top_order(article):
    imported, live = CommentFactory(article=article), CommentFactory(article=article)
    Comment.objects.filter(pk=imported.pk).update(legacy_like_count=5)
    services.toggle_like(user=UserFactory(), comment=live)

    page = selectors.get_thread_page(article=article, sort=CommentSort.TOP)

    assert [r.pk for r in page.roots] == [imported.pk, live.pk]
    assert page.roots[0].total_like_count == 5


@pytest.mark.parametrize("sort", [CommentSort.NEWEST, CommentSort.OLDEST])
def test_time_sorts_order_roots_by_creation(article, sort):
    posted = build_discussion(article, comments=12, roots=12)
    expected = sorted(posted, key=lambda c: c.created_at, reverse=sort == CommentSort.NEWEST)

    page = selectors.get_thread_page(article=article, sort=sort)

    assert [r.pk for r in page.roots] == [c.pk for c in expected]


def test_replies_read_in_chronological_order_under_their_parent(article):
    root = CommentFactory(article=article)
    first = CommentFactory(parent=root)
    second = CommentFactory(parent=root)
    first_child = CommentFactory(parent=first)

    page = selectors.get_thread_page(article=article)

    assert [c.pk for c in page.roots[0].shown_replies] == [first.pk, first_child.pk, second.pk]
    assert [c.depth for c in page.roots[0].shown_replies] == [1, 2, 1]


def test_sort_is_in_the_url_and_bad_sort_is_400(client, article):
    build_discussion(article, comments=6, roots=6)
    newest = client.get(article.get_absolute_url() + "?sort=newest")
    oldest = client.get(article.get_absolute_url() + "?sort=oldest")

    assert thread_ids(newest.text) == list(reversed(thread_ids(oldest.text)))
    assert 'href="?sort=newest#discussion" aria-current="page"' in newest.text
    assert client.get(article.get_absolute_url() + "?sort=<script>").status_code == 400


# --- Filter --------------------------------------------------------------------------------


def test_author_filter_keeps_only_threads_the_author_replied_in(client, article):
    answered, ignored = CommentFactory(article=article), CommentFactory(article=article)
    CommentFactory(parent=answered, author=article.author)
    CommentFactory(parent=ignored)

    response = client.get(article.get_absolute_url() + "?author=1")

    assert thread_ids(response.text) == [answered.pk]
    assert "1 author reply" in response.text


# --- Pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize("sort", list(CommentSort.values))
def test_cursor_pages_cover_every_root_once_in_order(article, sort):
    build_discussion(article, comments=50, roots=45)
    for comment in Comment.objects.filter(article=article, parent=None)[:10]:
        services.toggle_like(user=UserFactory(), comment=comment)
    expected = [
        r.pk for r in selectors.get_thread_page(article=article, sort=sort, per_page=100).roots
    ]

    seen, cursor = [], None
    while True:
        page = selectors.get_thread_page(article=article, sort=sort, cursor=cursor, per_page=20)
        seen += [r.pk for r in page.roots]
        if not page.next_cursor:
            break
        cursor = selectors.Cursor.decode(page.next_cursor, sort=sort)

    assert seen == expected
    assert len(seen) == 45


def test_next_page_is_stable_when_new_comments_arrive(article):
    build_discussion(article, comments=30, roots=30)
    first = selectors.get_thread_page(article=article, sort=CommentSort.NEWEST)
    expected_second = selectors.get_thread_page(
        article=article,
        sort=CommentSort.NEWEST,
        cursor=selectors.Cursor.decode(first.next_cursor, sort="newest"),
    )
    CommentFactory(article=article)  # arrives between the two page loads
    second = selectors.get_thread_page(
        article=article,
        sort=CommentSort.NEWEST,
        cursor=selectors.Cursor.decode(first.next_cursor, sort="newest"),
    )

    assert [r.pk for r in second.roots] == [r.pk for r in expected_second.roots]


def test_load_more_link_works_without_javascript_and_as_htmx_fragment(client, article):
    build_discussion(article, comments=25, roots=25)
    first = client.get(article.get_absolute_url())
    more = re.search(r'<li class="load-more"><a [^>]*href="([^"]+)#discussion"', first.text).group(
        1
    )
    more = more.replace("&amp;", "&")

    plain = client.get(more)
    fragment = client.get(more, HTTP_HX_REQUEST="true")

    assert len(thread_ids(first.text)) == 20
    assert plain.status_code == 200 and "<html" in plain.text
    assert "<html" not in fragment.text
    assert len(thread_ids(fragment.text)) == 5
    assert set(thread_ids(fragment.text)).isdisjoint(thread_ids(first.text))
    assert fragment["Vary"] and "HX-Request" in fragment["Vary"]


def test_broken_cursor_is_a_400_with_a_message(client, article):
    response = client.get(article.get_absolute_url() + "?cursor=%%%not-ours")

    assert response.status_code == 400
    assert "load more" in response.text


def test_long_threads_show_the_first_replies_and_how_many_more(client, article):
    root = CommentFactory(article=article)
    replies = [CommentFactory(parent=root) for _ in range(8)]

    page = client.get(article.get_absolute_url())
    rest = client.get(reverse("forum:comment-replies", args=[root.pk]), HTTP_HX_REQUEST="true")

    assert comment_ids(page.text) == [root.pk] + [r.pk for r in replies[:5]]
    assert "Show 3 more replies" in page.text
    assert comment_ids(rest.text) == [r.pk for r in replies[5:]]


# --- Permalinks ----------------------------------------------------------------------------


def test_permalink_lands_on_the_page_holding_a_comment_far_down(client, article):
    posted = build_discussion(article, comments=160, roots=60)
    first_page = client.get(article.get_absolute_url())
    first_roots = thread_ids(first_page.text)
    deep = next(c for c in reversed(posted) if c.depth >= 3 and c.root_id not in first_roots)
    assert f'id="c-{deep.pk}"' not in first_page.text

    redirect = client.get(deep.get_absolute_url())
    assert redirect.status_code == 302
    assert redirect.url.endswith(f"?c={deep.pk}#c-{deep.pk}")
    landed = client.get(redirect.url)

    assert f'id="c-{deep.pk}"' in landed.text
    assert thread_ids(landed.text)[0] == deep.root_id


def test_permalink_of_unknown_comment_is_404(client):
    assert client.get(reverse("forum:comment-permalink", args=[424242])).status_code == 404


# --- Tombstones and marks ------------------------------------------------------------------


def test_deleted_comment_with_replies_leaves_a_tombstone_and_without_replies_is_gone(
    client, article
):
    with_reply, alone = CommentFactory(article=article), CommentFactory(article=article)
    reply = CommentFactory(parent=with_reply)
    services.delete_comment(comment=with_reply)
    services.delete_comment(comment=alone)

    html = client.get(article.get_absolute_url()).text

    assert "[deleted]" in html
    assert f'id="c-{reply.pk}"' in html
    assert f'id="c-{alone.pk}"' not in html
    assert with_reply.body_md not in html


def test_deep_replies_stop_indenting_and_say_whom_they_answer(client, article):
    parent = CommentFactory(article=article)
    for _ in range(5):
        parent = CommentFactory(parent=parent)  # depth 5 at the end

    html = client.get(article.get_absolute_url()).text

    assert f'class="comment indent-4" id="c-{parent.pk}"' in html
    assert (
        f'replying to <a href="#c-{parent.parent_id}">@{parent.parent.author.display_name}</a>'
        in html
    )


def test_author_replies_are_marked_and_counted_on_the_root(client, article):
    root = CommentFactory(article=article)
    CommentFactory(parent=root, author=article.author)
    CommentFactory(parent=root, author=article.author)

    html = client.get(article.get_absolute_url()).text

    assert html.count("badge badge-author") == 2
    assert "Author reply" in html
    assert "2 author replies" in html


def test_mentions_link_to_the_profile(article):
    named = UserFactory(display_name="林老师")
    comment = CommentFactory(article=article, body="谢谢 @林老师 的解答，@nobody 不存在")

    assert f'<a href="{named.get_absolute_url()}" class="mention"' in comment.body_html
    assert "@nobody" in comment.body_html and 'mention">@nobody' not in comment.body_html


# --- Cache ---------------------------------------------------------------------------------


def test_cached_thread_is_refreshed_by_every_write(client, article):
    comment = CommentFactory(article=article, body="first version")
    assert "first version" in client.get(article.get_absolute_url()).text

    services.edit_comment(comment=comment, body="second version")
    article.refresh_from_db()

    assert "second version" in client.get(article.get_absolute_url()).text


def test_signed_in_reader_sees_their_own_like_state_on_the_cached_page(client, article, reader):
    comment = CommentFactory(article=article)
    client.get(article.get_absolute_url())  # fills the cache as anonymous
    services.toggle_like(user=reader, comment=comment)
    client.force_login(reader)

    html = client.get(article.get_absolute_url()).text

    assert 'class="like is-liked" aria-pressed="true"' in html
    assert "<!--like:" not in html and "<!--act:" not in html


def test_own_comments_get_edit_and_delete_controls_and_others_do_not(client, article, reader):
    mine, theirs = CommentFactory(article=article, author=reader), CommentFactory(article=article)
    client.force_login(reader)

    html = client.get(article.get_absolute_url()).text

    assert f'href="/c/{mine.pk}/edit/"' in html
    assert f'href="/c/{theirs.pk}/edit/"' not in html


def test_hidden_comments_are_not_counted_or_shown(client, article):
    comment = CommentFactory(article=article, body="hide me")
    Comment.objects.filter(pk=comment.pk).update(status=CommentStatus.HIDDEN)

    assert "hide me" not in client.get(article.get_absolute_url()).text


def test_recently_discussed_follows_the_comments_readers_can_see(
    client, article, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    older = CommentFactory(article=article, created_at=now - timedelta(hours=2))
    newer = CommentFactory(article=article, created_at=now - timedelta(hours=1))

    def latest():
        article.refresh_from_db(fields=["last_commented_at"])
        return article.last_commented_at

    assert latest() == newer.created_at
    assert article.title in client.get("/").text
    # The home page's listing is cached: each write retires it once committed.
    with django_capture_on_commit_callbacks(execute=True):
        services.set_comment_status(newer, CommentStatus.HIDDEN)
    assert latest() == older.created_at
    with django_capture_on_commit_callbacks(execute=True):
        services.set_comment_status(newer, CommentStatus.VISIBLE)
    assert latest() == newer.created_at
    with django_capture_on_commit_callbacks(execute=True):
        services.delete_comment(comment=newer)
        services.set_comment_status(older, CommentStatus.HIDDEN)
    assert latest() is None
    assert article.title not in client.get("/").text  # no longer "recently discussed"


# --- Queries -------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [10, 1000])
def test_article_page_runs_a_bounded_number_of_queries(
    client, article, reader, django_assert_num_queries, size
):
    build_discussion(article, comments=size, roots=max(size // 10, 5))
    url = article.get_absolute_url()

    # The version, the article, the roots and their replies, the page's like counts.
    with django_assert_num_queries(5):
        anonymous = client.get(url)
    assert anonymous.status_code == 200

    client.force_login(reader)
    from django.core.cache import cache

    cache.clear()
    # The session and the reader, the version with their state, the same four as above, their
    # unread notifications and whether their email is verified.
    with django_assert_num_queries(9):
        signed_in = client.get(url)
    assert signed_in.status_code == 200
    assert len(thread_ids(signed_in.text)) == min(20, max(size // 10, 5))
    # Then from the cache: the reader (user row) and the page's version with their state.
    with django_assert_num_queries(2):
        again = client.get(url)
    assert thread_ids(again.text) == thread_ids(signed_in.text)


def test_home_and_column_pages_run_a_bounded_number_of_queries(
    client, django_assert_max_num_queries
):
    for _ in range(6):
        article = ArticleFactory()
        build_discussion(article, comments=5, roots=3, users=2)

    with django_assert_max_num_queries(3):
        assert client.get("/").status_code == 200
    with django_assert_max_num_queries(3):
        assert client.get(article.column.get_absolute_url()).status_code == 200

"""The discussion's write endpoints (and the article page that shows them), seen from the edge.

For every endpoint: the allowed path and each denied path across the personas (anonymous,
unverified, the comment's author, another reader, the article's author, a moderator, a
superuser), with and without htmx where the answer differs, and bad input — which must give a
clear 4xx with a message and write nothing. Assertions are on status codes, rendered text and
database rows. Likes live in test_likes_views.py, injection in test_xss.py.
"""

from __future__ import annotations

import html
import re
from base64 import urlsafe_b64encode
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from forum import services
from forum.enums import CommentStatus
from forum.forms import COMMENT_MAX_LENGTH
from forum.models import Article, Comment, CommentRevision
from tests.factories import ArticleFactory, CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

ARTICLE_PATH = "/columns/deep-k8s/why-pods/"
HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver{ARTICLE_PATH}"}

EMPTY_MESSAGE = "Write something first: the comment is empty."
VERIFY_MESSAGE = "Verify your email address to take part in discussions."
ONLY_AUTHOR_MESSAGE = "Only the comment's author can change it."
FEATURE_MESSAGE = "Only the article's author or a moderator can feature comments."


# --- Helpers -------------------------------------------------------------------------------


@pytest.fixture
def comment(article, reader):
    """A root comment by `reader` (the owner persona) under `article`."""
    return CommentFactory(article=article, author=reader, body="Pods are the unit of scheduling.")


def text_of(response) -> str:
    """The response as a reader sees it (entities decoded)."""
    return html.unescape(response.content.decode())


def login_url(next_url: str) -> str:
    return f"{reverse('account_login')}?next={quote(next_url, safe='/')}"


def assert_login_redirect(response, next_url: str) -> None:
    assert response.status_code == 302
    assert response.url == login_url(next_url)


def assert_hx_login_redirect(response, next_url: str) -> None:
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == login_url(next_url)
    assert response.content == b""


def is_fragment(response) -> bool:
    return "<html" not in response.content.decode()


def thread_ids(page_html: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li class="thread" id="t-(\d+)"', page_html)]


def comment_bodies(page_html: str) -> list[str]:
    tree = HTMLParser(page_html)
    return [node.text(strip=True) for node in tree.css("article.comment .comment-body")]


def page(client: Client, article: Article, query: str = "", **headers):
    return client.get(article.get_absolute_url() + query, **headers)


def create_url(article: Article) -> str:
    return reverse("forum:comment-create", args=[article.column.slug, article.slug])


def url(name: str, comment: Comment) -> str:
    return reverse(f"forum:{name}", args=[comment.pk])


def b64(raw: str) -> str:
    return urlsafe_b64encode(raw.encode()).decode().rstrip("=")


# --- article-detail: the page, its sorts, filter, cursor and start-at -------------------------


@pytest.mark.parametrize("persona", ["anonymous", "unverified_user", "reader", "column_author"])
def test_anyone_can_read_the_article_and_its_discussion(client_for, persona, article, comment):
    response = page(client_for(persona), article)

    assert response.status_code == 200
    assert "Why Pods?" in response.text
    assert comment_bodies(response.text) == ["Pods are the unit of scheduling."]
    assert "1 comment" in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_an_empty_discussion_invites_the_first_comment(client, article):
    response = page(client, article)

    assert response.status_code == 200
    assert "0 comments" in response.text
    assert "No comments yet. Be the first." in response.text


def test_anonymous_reader_is_invited_to_log_in_instead_of_seeing_the_form(client, article):
    response = page(client, article)

    assert 'name="body"' not in response.text
    assert f'href="{reverse("account_login")}?next={ARTICLE_PATH}%23comment-form"' in response.text


def test_unverified_user_is_told_to_verify_instead_of_seeing_the_form(client_for, article):
    response = page(client_for("unverified_user"), article)

    assert 'name="body"' not in response.text
    assert VERIFY_MESSAGE in response.text


def test_verified_reader_sees_the_comment_form(reader_client, article):
    response = page(reader_client, article)

    assert f'action="{create_url(article)}"' in response.text
    assert 'name="body"' in response.text


@pytest.mark.parametrize("sort", ["top", "newest", "oldest"])
def test_each_known_sort_order_is_accepted(client, article, comment, sort):
    response = page(client, article, f"?sort={sort}")

    assert response.status_code == 200
    assert f'href="?sort={sort}#discussion" aria-current="page"' in response.text


@pytest.mark.parametrize("sort", ["best", "TOP", "-created_at", "top'--", "🙂"])
def test_an_unknown_sort_order_is_a_400_with_a_message(client, article, comment, sort):
    response = page(client, article, f"?sort={quote(sort)}")

    assert response.status_code == 400
    assert "Unknown sort order." in response.text


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        "é",
        b64("only~two"),
        b64("1~notanumber~5"),
        b64("1~5~notanid"),
        b64("1~5~6~7"),
        b64("0~2024-13-45T99:00:00~3"),  # newest/oldest cursors carry a timestamp
    ],
)
def test_a_garbage_cursor_is_a_400_with_a_message(client, article, comment, cursor):
    response = page(client, article, f"?cursor={quote(cursor)}")
    response_newest = page(client, article, f"?sort=newest&cursor={quote(cursor)}")

    for answer in (response, response_newest):
        assert answer.status_code == 400
        assert "This “load more” link is broken or outdated." in text_of(answer)


def test_a_cursor_made_for_another_sort_order_is_a_400(client, article):
    newest_cursor = b64("0~2024-01-01T10:00:00+00:00~3")

    response = page(client, article, f"?sort=top&cursor={newest_cursor}")

    assert response.status_code == 400
    assert "broken or outdated" in response.text


def test_a_cursor_too_long_to_be_ours_is_a_400(client, article):
    response = page(client, article, "?cursor=" + "A" * 500)

    assert response.status_code == 400


@pytest.fixture
def twenty_one_roots(article):
    """One more root than a page holds (the oldest one lands on page 2 in top order)."""
    return [CommentFactory(article=article, body=f"root number {n}") for n in range(21)]


def test_load_more_link_leads_to_the_next_page_of_threads(client, article, twenty_one_roots):
    first = page(client, article)
    cursor = re.search(r'hx-get="[^"]*cursor=([\w-]+)', first.text).group(1)

    second = page(client, article, f"?cursor={cursor}")

    assert len(thread_ids(first.text)) == 20
    assert twenty_one_roots[0].pk not in thread_ids(first.text)
    assert second.status_code == 200
    assert "<html" in second.text
    assert thread_ids(second.text) == [twenty_one_roots[0].pk]


def test_htmx_load_more_returns_only_the_threads_fragment(client, article, twenty_one_roots):
    first = page(client, article)
    cursor = re.search(r'hx-get="[^"]*cursor=([\w-]+)', first.text).group(1)

    response = page(client, article, f"?sort=top&cursor={cursor}", **HX)

    assert response.status_code == 200
    assert is_fragment(response)
    assert thread_ids(response.text) == [twenty_one_roots[0].pk]
    assert "Load more comments" not in response.text
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_history_restore_with_a_cursor_gets_the_whole_page(client, article, twenty_one_roots):
    first = page(client, article)
    cursor = re.search(r'hx-get="[^"]*cursor=([\w-]+)', first.text).group(1)

    response = page(
        client, article, f"?cursor={cursor}", HTTP_HX_HISTORY_RESTORE_REQUEST="true", **HX
    )

    assert response.status_code == 200
    assert "<html" in response.text


def test_author_filter_shows_only_threads_with_an_author_reply(
    client, article, column_author, reader, other_reader
):
    answered = CommentFactory(article=article, author=reader, body="A question the author answers")
    CommentFactory(parent=answered, author=column_author, body="The author's answer")
    unanswered = CommentFactory(article=article, author=other_reader, body="Nobody answers this")
    own_root = CommentFactory(article=article, author=column_author, body="The author's own root")

    everything = page(client, article)
    filtered = page(client, article, "?author=1")

    assert set(thread_ids(everything.text)) == {answered.pk, unanswered.pk, own_root.pk}
    assert filtered.status_code == 200
    assert thread_ids(filtered.text) == [answered.pk]
    assert 'class="filter is-on"' in filtered.text


def test_c_parameter_starts_the_page_at_that_comments_thread(client, article, twenty_one_roots):
    oldest = twenty_one_roots[0]
    reply = CommentFactory(parent=oldest, body="a reply deep in page two")

    by_root = page(client, article, f"?c={oldest.pk}")
    by_reply = page(client, article, f"?c={reply.pk}")

    for response in (by_root, by_reply):
        assert response.status_code == 200
        assert thread_ids(response.text)[0] == oldest.pk
        assert "Showing comments from the linked one" in response.text
    assert "a reply deep in page two" in by_reply.text


def test_c_parameter_reaches_a_reply_beyond_the_first_five(client, article, comment):
    replies = [CommentFactory(parent=comment, body=f"reply number {n}") for n in range(8)]

    plain = page(client, article)
    linked = page(client, article, f"?c={replies[-1].pk}")

    assert "reply number 7" not in plain.text
    assert "reply number 7" in linked.text


@pytest.mark.parametrize("value", ["999999", "abc", "", "-1", "1.5"])
def test_c_parameter_of_an_unknown_or_malformed_id_is_ignored(client, article, comment, value):
    response = page(client, article, f"?c={value}")

    assert response.status_code == 200
    assert thread_ids(response.text) == [comment.pk]
    assert "Showing comments from the linked one" not in response.text


def test_c_parameter_pointing_into_another_article_is_ignored(client, article, comment):
    elsewhere = CommentFactory(body="on another article")

    response = page(client, article, f"?c={elsewhere.pk}")

    assert response.status_code == 200
    assert "on another article" not in response.text
    assert "Showing comments from the linked one" not in response.text


def test_c_parameter_with_a_unicode_digit_is_ignored_not_a_server_error(client, article, comment):
    response = page(client, article, "?c=%C2%B2")

    assert response.status_code in (200, 400)


def test_unknown_or_unpublished_article_is_404(client, article):
    Article.objects.filter(pk=article.pk).update(is_published=False)

    assert page(client, article).status_code == 404
    assert client.get("/columns/deep-k8s/no-such-chapter/").status_code == 404


def test_article_page_only_answers_get(reader_client, article):
    assert reader_client.post(article.get_absolute_url()).status_code == 405


# --- comment-create ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "persona", ["reader", "other_reader", "column_author", "moderator", "admin_user"]
)
def test_verified_user_posts_a_comment_and_is_sent_to_its_permalink(
    client_for, request, persona, article
):
    user = request.getfixturevalue(persona)

    response = client_for(persona).post(create_url(article), {"body": "  First!  "})

    saved = Comment.objects.get()
    assert response.status_code == 302
    assert response.url == f"/c/{saved.pk}/"
    assert (saved.author, saved.article, saved.parent, saved.depth) == (user, article, None, 0)
    assert saved.body_md == "First!"
    assert saved.root_id == saved.pk
    article.refresh_from_db()
    assert article.comment_count == 1


def test_posted_comment_shows_on_the_article_page_with_its_author(reader_client, article):
    reader_client.post(create_url(article), {"body": "I **really** liked this."})

    response = page(Client(), article)

    assert "1 comment" in response.text
    assert "<strong>really</strong>" in response.text
    tree = HTMLParser(response.text)
    assert tree.css_first("article.comment .comment-author .name").text() == "reader"


def test_htmx_post_returns_a_fresh_form_and_the_new_thread_out_of_band(reader_client, article):
    response = reader_client.post(create_url(article), {"body": "Posted with htmx"}, **HX)

    saved = Comment.objects.get()
    assert response.status_code == 200
    assert is_fragment(response)
    tree = HTMLParser(response.text)
    assert tree.css_first("#comment-form textarea[name=body]").text() == ""
    oob = tree.css_first('ol[hx-swap-oob="afterbegin:#threads"]')
    assert oob is not None
    thread = oob.css_first("li.thread")
    assert thread.attributes["id"] == f"t-{saved.pk}"
    assert "Posted with htmx" in thread.css_first(".comment-body").text()
    # The author sees their own edit/delete controls in the new thread.
    assert f'href="/c/{saved.pk}/edit/"' in response.text


def test_a_comment_of_exactly_the_maximum_length_is_accepted(reader_client, article):
    response = reader_client.post(create_url(article), {"body": "x" * COMMENT_MAX_LENGTH})

    assert response.status_code == 302
    assert len(Comment.objects.get().body_md) == COMMENT_MAX_LENGTH


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", EMPTY_MESSAGE),
        ("   \n\t  ", EMPTY_MESSAGE),
        (
            "x" * (COMMENT_MAX_LENGTH + 1),
            "A comment can be at most 10000 characters (it has 10001).",
        ),
    ],
    ids=["empty", "whitespace", "too-long"],
)
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_bad_comment_body_is_a_400_with_the_message_and_nothing_is_saved(
    reader_client, article, body, message, headers
):
    response = reader_client.post(create_url(article), {"body": body}, **headers)

    assert response.status_code == 400
    assert message in response.text
    assert 'aria-invalid="true"' in response.text
    assert Comment.objects.count() == 0
    article.refresh_from_db()
    assert article.comment_count == 0
    assert is_fragment(response) == bool(headers)


def test_a_missing_body_field_is_a_400_and_nothing_is_saved(reader_client, article):
    response = reader_client.post(create_url(article), {})

    assert response.status_code == 400
    assert EMPTY_MESSAGE in response.text
    assert Comment.objects.count() == 0


def test_anonymous_post_is_sent_to_login_and_nothing_is_saved(client, article):
    response = client.post(create_url(article), {"body": "Hello"})

    assert_login_redirect(response, ARTICLE_PATH)
    assert Comment.objects.count() == 0


def test_anonymous_htmx_post_gets_an_hx_redirect_to_login_and_nothing_is_saved(client, article):
    response = client.post(create_url(article), {"body": "Hello"}, **HX)

    assert_hx_login_redirect(response, ARTICLE_PATH)
    assert Comment.objects.count() == 0


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_unverified_user_cannot_comment(client_for, article, headers):
    response = client_for("unverified_user").post(create_url(article), {"body": "Hi"}, **headers)

    assert response.status_code == 403
    assert VERIFY_MESSAGE in response.text
    assert Comment.objects.count() == 0


def test_commenting_on_an_unknown_or_unpublished_article_is_404(reader_client, article):
    Article.objects.filter(pk=article.pk).update(is_published=False)

    assert reader_client.post(create_url(article), {"body": "Hi"}).status_code == 404
    missing = reverse("forum:comment-create", args=["deep-k8s", "nope"])
    assert reader_client.post(missing, {"body": "Hi"}).status_code == 404
    assert Comment.objects.count() == 0


def test_comment_create_only_answers_post(reader_client, article):
    assert reader_client.get(create_url(article)).status_code == 405


def test_post_without_a_csrf_token_is_403_and_writes_nothing(reader, article):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reader)

    response = strict.post(create_url(article), {"body": "Forged from another site"})

    assert response.status_code == 403
    assert Comment.objects.count() == 0


def test_post_with_the_pages_csrf_token_is_accepted_when_checks_are_enforced(reader, article):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reader)
    form_page = strict.get(article.get_absolute_url())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form_page.text).group(1)

    response = strict.post(create_url(article), {"body": "Real", "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert Comment.objects.get().body_md == "Real"


def test_mention_of_an_existing_display_name_links_to_the_profile(
    reader_client, article, other_reader
):
    reader_client.post(
        create_url(article), {"body": "Agree with @other_reader and @OTHER_READER, not @nobody_x"}
    )

    response = page(Client(), article)

    body = HTMLParser(response.text).css_first(".comment-body")
    links = body.css("a")
    assert [link.attributes["href"] for link in links] == [f"/u/{other_reader.pk}/"] * 2
    assert [link.attributes["class"] for link in links] == ["mention"] * 2
    assert [link.text() for link in links] == ["@other_reader", "@OTHER_READER"]
    assert "not @nobody_x" in body.text()


# --- comment-reply -------------------------------------------------------------------------


def test_reader_gets_the_reply_page_with_the_quoted_parent(client_for, comment):
    response = client_for("other_reader").get(url("comment-reply", comment))

    assert response.status_code == 200
    assert "<html" in response.text
    assert "Reply to reader" in response.text
    assert "Pods are the unit of scheduling." in response.text
    assert f'action="{url("comment-reply", comment)}"' in response.text


def test_htmx_reply_get_returns_only_the_form_in_its_slot(client_for, comment):
    response = client_for("other_reader").get(url("comment-reply", comment), **HX)

    assert response.status_code == 200
    assert is_fragment(response)
    assert response.text.lstrip().startswith(f'<div class="reply-slot" id="reply-{comment.pk}">')
    assert "<form" in response.text
    assert f'id="id_reply{comment.pk}_body"' in response.text
    assert "Reply to reader" not in response.text


@pytest.mark.parametrize("persona", ["reader", "other_reader", "column_author", "moderator"])
def test_verified_user_replies_and_is_sent_to_the_replys_permalink(
    client_for, request, persona, article, comment
):
    response = client_for(persona).post(url("comment-reply", comment), {"body": "A reply"})

    reply = Comment.objects.exclude(pk=comment.pk).get()
    assert response.status_code == 302
    assert response.url == f"/c/{reply.pk}/"
    assert reply.parent == comment
    assert (reply.root_id, reply.depth) == (comment.pk, 1)
    assert reply.author == request.getfixturevalue(persona)
    comment.refresh_from_db()
    article.refresh_from_db()
    assert comment.reply_count == 1
    assert article.comment_count == 2


def test_htmx_reply_post_returns_the_new_replys_html(client_for, comment):
    response = client_for("other_reader").post(
        url("comment-reply", comment), {"body": "Quick *reply*"}, **HX
    )

    reply = Comment.objects.get(parent=comment)
    assert response.status_code == 200
    assert is_fragment(response)
    node = HTMLParser(response.text).css_first("article.comment")
    assert node.attributes["id"] == f"c-{reply.pk}"
    assert "<em>reply</em>" in response.text
    assert "other_reader" in node.css_first(".name").text()


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_reply_is_sent_to_login_coming_back_to_the_parent(client, comment, method):
    response = getattr(client, method)(url("comment-reply", comment), {"body": "Hi"})

    assert_login_redirect(response, f"/c/{comment.pk}/")
    assert Comment.objects.count() == 1


def test_anonymous_htmx_reply_gets_an_hx_redirect_to_login(client, comment):
    response = client.post(url("comment-reply", comment), {"body": "Hi"}, **HX)

    assert_hx_login_redirect(response, f"/c/{comment.pk}/")
    assert Comment.objects.count() == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_unverified_user_cannot_reply(client_for, comment, method):
    response = getattr(client_for("unverified_user"), method)(
        url("comment-reply", comment), {"body": "Hi"}
    )

    assert response.status_code == 403
    assert VERIFY_MESSAGE in response.text
    assert Comment.objects.count() == 1


@pytest.mark.parametrize("status", [CommentStatus.REMOVED, CommentStatus.HIDDEN])
@pytest.mark.parametrize("method", ["get", "post"])
def test_nobody_can_reply_to_a_removed_or_hidden_comment(client_for, comment, status, method):
    Comment.objects.filter(pk=comment.pk).update(status=status)

    for persona in ("reader", "other_reader", "column_author", "moderator"):
        response = getattr(client_for(persona), method)(
            url("comment-reply", comment), {"body": "Hi"}
        )
        assert response.status_code == 403
        assert "This comment can no longer be replied to." in response.text
    assert Comment.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "message"),
    [("", EMPTY_MESSAGE), (" \n ", EMPTY_MESSAGE), ("y" * 10_001, "at most 10000 characters")],
    ids=["empty", "whitespace", "too-long"],
)
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_bad_reply_body_is_a_400_with_the_message_and_nothing_is_saved(
    client_for, comment, body, message, headers
):
    response = client_for("other_reader").post(
        url("comment-reply", comment), {"body": body}, **headers
    )

    assert response.status_code == 400
    assert message in response.text
    assert is_fragment(response) == bool(headers)
    assert Comment.objects.count() == 1
    comment.refresh_from_db()
    assert comment.reply_count == 0


def test_replying_to_an_unknown_comment_is_404(reader_client):
    assert reader_client.get(reverse("forum:comment-reply", args=[999999])).status_code == 404
    assert (
        reader_client.post(reverse("forum:comment-reply", args=[999999]), {"body": "x"}).status_code
        == 404
    )


def test_reply_endpoint_refuses_other_methods(reader_client, comment):
    assert reader_client.put(url("comment-reply", comment)).status_code == 405


def test_replying_under_an_unpublished_article_is_404_like_commenting_on_it(
    client_for, article, comment
):
    Article.objects.filter(pk=article.pk).update(is_published=False)

    response = client_for("other_reader").post(url("comment-reply", comment), {"body": "Hi"})

    assert response.status_code == 404
    assert Comment.objects.count() == 1


# --- Marks: author badges, author-reply counts, "replying to" -------------------------------


def test_the_article_authors_root_and_replies_carry_author_badges(
    client, article, column_author, reader
):
    own_root = CommentFactory(article=article, author=column_author, body="Errata for chapter 1")
    question = CommentFactory(article=article, author=reader, body="Why not VMs?")
    CommentFactory(parent=question, author=column_author, body="Density.")
    CommentFactory(parent=question, author=reader, body="Thanks")

    response = page(client, article)

    tree = HTMLParser(response.text)
    own = tree.css_first(f"#c-{own_root.pk}")
    assert own.css_first(".badge-author").text() == "Author"
    assert "is-author" in own.attributes["class"]
    question_thread = tree.css_first(f"#t-{question.pk}")
    badges = [b.text() for b in question_thread.css(".badge-author")]
    assert badges == ["Author reply"]
    assert question_thread.css_first(".thread-note").text() == "1 author reply"
    assert tree.css_first(f"#t-{own_root.pk} .thread-note") is None


def test_a_thread_with_several_author_replies_says_how_many(client, article, column_author, reader):
    question = CommentFactory(article=article, author=reader)
    first = CommentFactory(parent=question, author=column_author)
    CommentFactory(parent=first, author=column_author)

    response = page(client, article)

    assert "2 author replies" in response.text


def test_replies_deeper_than_four_say_whom_they_answer(client, article, reader, other_reader):
    parent = CommentFactory(article=article, author=reader)
    for depth in range(1, 6):
        author = other_reader if depth % 2 else reader
        parent = CommentFactory(parent=parent, author=author, body=f"depth {depth}")

    response = page(client, article)

    tree = HTMLParser(response.text)
    deepest = tree.css_first(f"#c-{parent.pk}")
    assert parent.depth == 5
    assert deepest.css_first(".reply-to").text(strip=True) == "replying to@reader"
    assert deepest.css_first(".reply-to a").attributes["href"] == f"#c-{parent.parent_id}"
    assert len(tree.css(".reply-to")) == 1  # depth 1–4 are indented instead


def test_an_htmx_reply_deeper_than_four_says_whom_it_answers(client_for, article, reader):
    parent = CommentFactory(article=article, author=reader)
    for _ in range(4):
        parent = CommentFactory(parent=parent, author=reader)

    response = client_for("other_reader").post(url("comment-reply", parent), {"body": "deep"}, **HX)

    assert response.status_code == 200
    node = HTMLParser(response.text).css_first(".reply-to")
    assert node.text(strip=True) == "replying to@reader"


# --- comment-edit --------------------------------------------------------------------------


def test_author_gets_the_edit_page_with_their_text(reader_client, comment):
    response = reader_client.get(url("comment-edit", comment))

    assert response.status_code == 200
    assert "<html" in response.text
    assert "Edit your comment" in response.text
    textarea = HTMLParser(response.text).css_first(f"#id_edit{comment.pk}_body")
    assert textarea.text() == "Pods are the unit of scheduling."


def test_htmx_edit_get_returns_only_the_form_replacing_the_comment(reader_client, comment):
    response = reader_client.get(url("comment-edit", comment), **HX)

    assert response.status_code == 200
    assert is_fragment(response)
    form = HTMLParser(response.text).css_first("form")
    assert form.attributes["id"] == f"c-{comment.pk}"
    assert form.attributes["hx-post"] == url("comment-edit", comment)


def test_author_edits_their_comment_keeping_a_revision_and_the_page_says_edited(
    reader_client, article, comment
):
    before = page(Client(), article)

    response = reader_client.post(
        url("comment-edit", comment), {"body": "Pods *schedule* together."}
    )

    assert response.status_code == 302
    assert response.url == f"/c/{comment.pk}/"
    comment.refresh_from_db()
    assert comment.body_md == "Pods *schedule* together."
    assert comment.edited_at is not None
    revision = CommentRevision.objects.get()
    assert (revision.comment, revision.body_md) == (comment, "Pods are the unit of scheduling.")
    after = page(Client(), article)
    assert 'class="edited"' not in before.text
    assert '<span class="edited">edited</span>' in after.text
    assert "<em>schedule</em>" in after.text
    assert "Pods are the unit of scheduling." not in after.text


def test_a_second_edit_keeps_both_earlier_versions(reader_client, comment):
    reader_client.post(url("comment-edit", comment), {"body": "v2"})
    reader_client.post(url("comment-edit", comment), {"body": "v3"})

    comment.refresh_from_db()
    assert comment.body_md == "v3"
    assert sorted(CommentRevision.objects.values_list("body_md", flat=True)) == [
        "Pods are the unit of scheduling.",
        "v2",
    ]


def test_saving_the_same_text_is_not_an_edit(reader_client, comment):
    response = reader_client.post(url("comment-edit", comment), {"body": comment.body_md})

    assert response.status_code == 302
    comment.refresh_from_db()
    assert comment.edited_at is None
    assert CommentRevision.objects.count() == 0


def test_htmx_edit_post_returns_the_updated_comment(reader_client, comment):
    response = reader_client.post(url("comment-edit", comment), {"body": "Changed"}, **HX)

    assert response.status_code == 200
    assert is_fragment(response)
    node = HTMLParser(response.text).css_first("article.comment")
    assert node.attributes["id"] == f"c-{comment.pk}"
    assert node.css_first(".comment-body").text(strip=True) == "Changed"
    assert node.css_first(".edited").text() == "edited"


@pytest.mark.parametrize(
    "persona", ["other_reader", "column_author", "moderator", "admin_user", "unverified_user"]
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_nobody_but_the_author_can_edit_a_comment(client_for, comment, persona, method):
    response = getattr(client_for(persona), method)(
        url("comment-edit", comment), {"body": "Hacked"}
    )

    assert response.status_code == 403
    assert ONLY_AUTHOR_MESSAGE in text_of(response)
    comment.refresh_from_db()
    assert comment.body_md == "Pods are the unit of scheduling."
    assert comment.edited_at is None
    assert CommentRevision.objects.count() == 0


def test_other_reader_cannot_edit_someone_elses_comment_even_with_htmx(client_for, comment):
    response = client_for("other_reader").post(url("comment-edit", comment), {"body": "x"}, **HX)

    assert response.status_code == 403
    comment.refresh_from_db()
    assert comment.body_md == "Pods are the unit of scheduling."


def test_an_author_whose_email_is_no_longer_verified_cannot_edit(
    client_for, article, unverified_user
):
    own = CommentFactory(article=article, author=unverified_user, body="Mine")

    response = client_for("unverified_user").post(url("comment-edit", own), {"body": "Changed"})

    assert response.status_code == 403
    own.refresh_from_db()
    assert own.body_md == "Mine"


def test_author_cannot_edit_a_comment_they_deleted(reader_client, comment):
    services.delete_comment(comment=comment)

    response = reader_client.post(url("comment-edit", comment), {"body": "Back from the dead"})

    assert response.status_code == 403
    comment.refresh_from_db()
    assert comment.body_md == "Pods are the unit of scheduling."


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_edit_is_sent_to_login(client, comment, method):
    response = getattr(client, method)(url("comment-edit", comment), {"body": "x"})

    assert_login_redirect(response, f"/c/{comment.pk}/")
    comment.refresh_from_db()
    assert comment.body_md == "Pods are the unit of scheduling."


def test_anonymous_htmx_edit_gets_an_hx_redirect_to_login(client, comment):
    assert_hx_login_redirect(client.get(url("comment-edit", comment), **HX), f"/c/{comment.pk}/")


@pytest.mark.parametrize(
    ("body", "message"),
    [("", EMPTY_MESSAGE), ("\n\n", EMPTY_MESSAGE), ("z" * 10_001, "at most 10000 characters")],
    ids=["empty", "whitespace", "too-long"],
)
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_bad_edit_is_a_400_with_the_message_and_changes_nothing(
    reader_client, comment, body, message, headers
):
    response = reader_client.post(url("comment-edit", comment), {"body": body}, **headers)

    assert response.status_code == 400
    assert message in response.text
    assert is_fragment(response) == bool(headers)
    comment.refresh_from_db()
    assert comment.body_md == "Pods are the unit of scheduling."
    assert comment.edited_at is None
    assert CommentRevision.objects.count() == 0


def test_editing_an_unknown_comment_is_404(reader_client):
    assert reader_client.get(reverse("forum:comment-edit", args=[424242])).status_code == 404


# --- comment-delete ------------------------------------------------------------------------


def test_author_gets_a_confirmation_page_before_deleting(reader_client, comment):
    response = reader_client.get(url("comment-delete", comment))

    assert response.status_code == 200
    assert "Delete this comment?" in response.text
    assert "It will disappear from the discussion." in response.text
    assert f'action="{url("comment-delete", comment)}"' in response.text
    comment.refresh_from_db()
    assert comment.status == CommentStatus.VISIBLE


def test_the_confirmation_page_warns_that_replies_keep_a_placeholder(reader_client, comment):
    CommentFactory(parent=comment)

    response = reader_client.get(url("comment-delete", comment))

    assert "a “[deleted]” placeholder will keep the thread readable" in text_of(response)


def test_author_deletes_a_comment_without_replies_and_it_leaves_the_page(
    reader_client, article, comment
):
    response = reader_client.post(url("comment-delete", comment))

    assert response.status_code == 302
    assert response.url == f"{ARTICLE_PATH}#discussion"
    comment.refresh_from_db()
    article.refresh_from_db()
    assert comment.status == CommentStatus.REMOVED
    assert Comment.objects.count() == 1  # the row stays, for moderators
    assert article.comment_count == 0
    shown = page(Client(), article)
    assert "Pods are the unit of scheduling." not in shown.text
    assert thread_ids(shown.text) == []
    assert "0 comments" in shown.text


def test_after_deleting_the_page_says_the_comment_was_deleted(reader_client, article, comment):
    response = reader_client.post(url("comment-delete", comment), follow=True)

    assert response.status_code == 200
    [message] = HTMLParser(response.text).css(".messages .message")
    assert message.text() == "Your comment was deleted."


def test_a_deleted_comment_with_replies_leaves_a_placeholder_and_the_replies(
    reader_client, article, comment, other_reader
):
    reply = CommentFactory(parent=comment, author=other_reader, body="The reply stays")

    reader_client.post(url("comment-delete", comment))

    shown = page(Client(), article)
    tree = HTMLParser(shown.text)
    tombstone = tree.css_first(f"#c-{comment.pk}")
    assert "is-tombstone" in tombstone.attributes["class"]
    assert tombstone.css_first(".tombstone").text() == "[deleted]"
    assert "Pods are the unit of scheduling." not in shown.text
    assert "reader" not in tombstone.text()
    assert tree.css_first(f"#c-{reply.pk} .comment-body").text(strip=True) == "The reply stays"
    article.refresh_from_db()
    assert article.comment_count == 1
    assert "1 comment" in shown.text


def test_deleting_a_reply_decrements_the_parents_reply_count(
    client_for, article, comment, other_reader
):
    reply = CommentFactory(parent=comment, author=other_reader, body="Gone soon")

    response = client_for("other_reader").post(url("comment-delete", reply))

    assert response.status_code == 302
    comment.refresh_from_db()
    article.refresh_from_db()
    assert comment.reply_count == 0
    assert article.comment_count == 1
    assert "Gone soon" not in page(Client(), article).text


def test_htmx_delete_returns_nothing_or_the_placeholder(reader_client, article, reader):
    lonely = CommentFactory(article=article, author=reader)
    answered = CommentFactory(article=article, author=reader)
    CommentFactory(parent=answered)

    gone = reader_client.post(url("comment-delete", lonely), **HX)
    placeholder = reader_client.post(url("comment-delete", answered), **HX)

    assert (gone.status_code, gone.content) == (200, b"")
    assert placeholder.status_code == 200
    assert "[deleted]" in placeholder.text
    assert is_fragment(placeholder)


def test_deleting_twice_is_refused_and_counts_once(reader_client, article, comment):
    reader_client.post(url("comment-delete", comment))

    second = reader_client.post(url("comment-delete", comment))

    assert second.status_code == 403
    article.refresh_from_db()
    assert article.comment_count == 0


@pytest.mark.parametrize(
    "persona", ["other_reader", "column_author", "moderator", "admin_user", "unverified_user"]
)
@pytest.mark.parametrize("method", ["get", "post"])
def test_nobody_but_the_author_can_delete_a_comment(client_for, article, comment, persona, method):
    response = getattr(client_for(persona), method)(url("comment-delete", comment))

    assert response.status_code == 403
    assert ONLY_AUTHOR_MESSAGE in text_of(response)
    comment.refresh_from_db()
    article.refresh_from_db()
    assert comment.status == CommentStatus.VISIBLE
    assert article.comment_count == 1


@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_delete_is_sent_to_login(client, comment, method):
    response = getattr(client, method)(url("comment-delete", comment))

    assert_login_redirect(response, f"/c/{comment.pk}/")
    comment.refresh_from_db()
    assert comment.status == CommentStatus.VISIBLE


def test_anonymous_htmx_delete_gets_an_hx_redirect_to_login(client, comment):
    assert_hx_login_redirect(client.post(url("comment-delete", comment), **HX), f"/c/{comment.pk}/")


def test_deleting_an_unknown_comment_is_404(reader_client):
    assert reader_client.post(reverse("forum:comment-delete", args=[424242])).status_code == 404


# --- Personalised controls on the shared (cached) page ----------------------------------------


def test_only_the_author_sees_edit_and_delete_links_on_the_cached_page(
    client_for, article, comment
):
    edit_link = f'href="/c/{comment.pk}/edit/"'

    as_author = page(client_for("reader"), article)
    as_other = page(client_for("other_reader"), article)
    as_moderator = page(client_for("moderator"), article)
    as_anonymous = page(client_for("anonymous"), article)

    assert edit_link in as_author.text
    assert f'href="/c/{comment.pk}/delete/"' in as_author.text
    for response in (as_other, as_moderator, as_anonymous):
        assert edit_link not in response.text
        assert f'href="/c/{comment.pk}/delete/"' not in response.text


def test_only_the_article_author_and_moderators_see_the_feature_button(
    client_for, article, comment
):
    action = f'action="/c/{comment.pk}/feature/"'

    for persona in ("column_author", "moderator", "admin_user"):
        assert action in page(client_for(persona), article).text, persona
    for persona in ("reader", "other_reader", "unverified_user", "anonymous"):
        assert action not in page(client_for(persona), article).text, persona


def test_anonymous_readers_get_log_in_links_instead_of_like_buttons(client, article, comment):
    response = page(client, article)

    tree = HTMLParser(response.text)
    assert tree.css("form.like-form") == []
    assert tree.css_first(f'a.like[href="/accounts/login/?next=/c/{comment.pk}/"]') is not None
    assert "csrfmiddlewaretoken" not in str(tree.css_first("#discussion").html)


# --- comment-feature -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["column_author", "moderator", "admin_user"])
def test_article_author_or_moderator_features_and_unfeatures_a_root(client_for, persona, comment):
    client = client_for(persona)

    on = client.post(url("comment-feature", comment), {"featured": "1"})
    comment.refresh_from_db()
    featured_after_on = comment.is_featured
    off = client.post(url("comment-feature", comment), {"featured": "0"})
    comment.refresh_from_db()

    assert on.status_code == off.status_code == 302
    assert on.url == f"/c/{comment.pk}/"
    assert featured_after_on is True
    assert comment.is_featured is False


def test_htmx_feature_asks_the_page_to_refresh(client_for, comment):
    response = client_for("column_author").post(
        url("comment-feature", comment), {"featured": "1"}, **HX
    )

    assert response.status_code == 200
    assert response.headers["HX-Refresh"] == "true"
    comment.refresh_from_db()
    assert comment.is_featured


@pytest.mark.parametrize("persona", ["reader", "other_reader", "unverified_user"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_readers_cannot_feature_comments_not_even_their_own(client_for, comment, persona, headers):
    response = client_for(persona).post(
        url("comment-feature", comment), {"featured": "1"}, **headers
    )

    assert response.status_code == 403
    assert FEATURE_MESSAGE in text_of(response)
    comment.refresh_from_db()
    assert comment.is_featured is False


def test_a_staff_member_outside_the_moderators_group_cannot_feature(client, comment):
    staff = UserFactory(is_staff=True)
    client.force_login(staff)

    response = client.post(url("comment-feature", comment), {"featured": "1"})

    assert response.status_code == 403
    comment.refresh_from_db()
    assert comment.is_featured is False


def test_the_author_of_another_article_cannot_feature_here(client, comment):
    other_author = UserFactory()
    ArticleFactory(author=other_author)
    client.force_login(other_author)

    assert client.post(url("comment-feature", comment), {"featured": "1"}).status_code == 403


def test_anonymous_feature_is_sent_to_login(client, comment):
    assert_login_redirect(
        client.post(url("comment-feature", comment), {"featured": "1"}), f"/c/{comment.pk}/"
    )
    assert_hx_login_redirect(
        client.post(url("comment-feature", comment), {"featured": "1"}, **HX), f"/c/{comment.pk}/"
    )
    comment.refresh_from_db()
    assert comment.is_featured is False


@pytest.mark.parametrize("persona", ["column_author", "moderator"])
def test_a_reply_cannot_be_featured(client_for, comment, persona):
    reply = CommentFactory(parent=comment)

    response = client_for(persona).post(url("comment-feature", reply), {"featured": "1"})

    assert response.status_code == 400
    assert "Only visible top-level comments can be featured." in response.text
    reply.refresh_from_db()
    assert reply.is_featured is False


def test_a_removed_root_cannot_be_featured(client_for, comment):
    CommentFactory(parent=comment)  # keeps the tombstone on the page
    services.delete_comment(comment=comment)

    response = client_for("column_author").post(url("comment-feature", comment), {"featured": "1"})

    assert response.status_code == 400
    comment.refresh_from_db()
    assert comment.is_featured is False


def test_feature_only_answers_post(client_for, comment):
    assert client_for("column_author").get(url("comment-feature", comment)).status_code == 405


@pytest.mark.parametrize("sort", ["top", "newest", "oldest"])
def test_featured_roots_come_first_whatever_the_sort(client_for, client, article, sort):
    first, middle, last = (CommentFactory(article=article, body=f"root {n}") for n in range(3))
    for _ in range(2):
        services.toggle_like(user=UserFactory(), comment=last)
    client_for("column_author").post(url("comment-feature", middle), {"featured": "1"})

    response = page(client, article, f"?sort={sort}")

    rest = {
        "top": [last.pk, first.pk],
        "newest": [last.pk, first.pk],
        "oldest": [first.pk, last.pk],
    }[sort]
    assert thread_ids(response.text) == [middle.pk, *rest]
    badge = HTMLParser(response.text).css_first(f"#c-{middle.pk} .badge-featured")
    assert badge.text() == "Featured"


# --- comment-replies -----------------------------------------------------------------------


@pytest.fixture
def long_thread(comment):
    return [CommentFactory(parent=comment, body=f"reply number {n}") for n in range(8)]


def test_a_long_thread_shows_five_replies_and_offers_the_rest(
    client, article, comment, long_thread
):
    response = page(client, article)

    bodies = comment_bodies(response.text)
    assert bodies[1:] == [f"reply number {n}" for n in range(5)]
    assert "Show 3 more replies" in response.text
    assert f'hx-get="/c/{comment.pk}/replies/"' in response.text


def test_htmx_more_replies_returns_the_remaining_replies_as_list_items(
    client, comment, long_thread
):
    response = client.get(url("comment-replies", comment), **HX)

    assert response.status_code == 200
    assert is_fragment(response)
    tree = HTMLParser(response.text)
    items = tree.css("body > li")
    assert len(items) == 3
    assert comment_bodies(response.text) == [f"reply number {n}" for n in range(5, 8)]
    assert [i.css_first("article").attributes["id"] for i in items] == [
        f"c-{r.pk}" for r in long_thread[5:]
    ]


def test_more_replies_are_personalised_for_the_reader(client_for, comment, long_thread):
    mine = long_thread[-1]
    client = client_for("anonymous")
    client.force_login(mine.author)

    response = client.get(url("comment-replies", comment), **HX)

    assert f'href="/c/{mine.pk}/edit/"' in response.text
    assert f'href="/c/{long_thread[-2].pk}/edit/"' not in response.text


def test_more_replies_without_htmx_redirects_to_the_permalink(client, comment, long_thread):
    response = client.get(url("comment-replies", comment))

    assert response.status_code == 302
    assert response.url == f"/c/{comment.pk}/"


def test_more_replies_of_a_reply_is_a_400(client, comment, long_thread):
    for headers in ({}, HX):
        response = client.get(url("comment-replies", long_thread[0]), **headers)
        assert response.status_code == 400
        assert "Only a thread's first comment has a reply list." in text_of(response)


def test_more_replies_of_a_short_thread_is_empty(client, comment):
    CommentFactory(parent=comment)

    response = client.get(url("comment-replies", comment), **HX)

    assert response.status_code == 200
    assert response.text.strip() == ""


def test_more_replies_of_an_unknown_comment_is_404(client):
    assert client.get(reverse("forum:comment-replies", args=[999999]), **HX).status_code == 404


def test_more_replies_after_a_deleted_reply_lose_no_reply(client, article, comment):
    replies = [CommentFactory(parent=comment, body=f"reply number {n}") for n in range(7)]
    services.delete_comment(comment=replies[1])

    first_page = page(client, article)
    more = client.get(url("comment-replies", comment), **HX)

    assert "Show 2 more replies" in first_page.text
    shown = comment_bodies(first_page.text) + comment_bodies(more.text)
    expected = [f"reply number {n}" for n in range(7) if n != 1]
    assert [b for b in shown if b.startswith("reply number")] == expected


# --- comment-preview -----------------------------------------------------------------------


def test_htmx_preview_returns_the_sanitized_html_and_saves_nothing(reader_client):
    response = reader_client.post(
        reverse("forum:comment-preview"), {"body": "**bold** <b>raw</b>"}, **HX
    )

    assert response.status_code == 200
    assert is_fragment(response)
    assert "<strong>bold</strong>" in response.text
    assert "&lt;b&gt;raw&lt;/b&gt;" in response.text
    assert Comment.objects.count() == 0


CHAPTER = {"column": "deep-k8s", "article": "why-pods"}


def test_preview_without_htmx_is_a_page_that_carries_the_form_and_the_text(reader_client, article):
    response = reader_client.post(
        reverse("forum:comment-preview"), {"body": "_hello_\r\nworld", **CHAPTER}
    )

    assert response.status_code == 200
    assert "<html" in response.text
    page = HTMLParser(response.text)
    assert page.css_first(".comment-preview").html.count("<em>hello</em>") == 1
    form = page.css_first("main form.comment-form")
    assert form.attributes["action"] == reverse(
        "forum:comment-create", args=["deep-k8s", "why-pods"]
    )
    assert form.css_first("textarea[name=body]").text() == "_hello_\nworld"
    assert "Post comment" in form.text()
    assert "Preview again" in form.text()
    assert Comment.objects.count() == 0


def test_posting_from_the_preview_page_posts_the_comment(reader_client, article):
    preview = reader_client.post(
        reverse("forum:comment-preview"), {"body": "Final words", **CHAPTER}
    )
    action = HTMLParser(preview.text).css_first("main form.comment-form").attributes["action"]

    response = reader_client.post(action, {"body": "Final words", **CHAPTER})

    assert response.status_code == 302
    assert Comment.objects.get().body_md == "Final words"


def test_an_empty_preview_without_htmx_says_so_and_keeps_the_form(reader_client, article):
    response = reader_client.post(reverse("forum:comment-preview"), {"body": "  ", **CHAPTER})

    assert response.status_code == 400
    page = HTMLParser(response.text)
    assert page.css_first("main .error").text() == EMPTY_MESSAGE
    assert page.css_first("main form.comment-form textarea[name=body]") is not None
    assert page.css_first(".comment-preview") is None


def test_a_preview_without_htmx_for_no_chapter_is_a_404(reader_client, article):
    response = reader_client.post(
        reverse("forum:comment-preview"), {"body": "hi", "column": "deep-k8s", "article": "nope"}
    )

    assert response.status_code == 404


def test_preview_links_mentions_like_the_real_comment(reader_client, other_reader):
    response = reader_client.post(
        reverse("forum:comment-preview"), {"body": "@other_reader hi"}, **HX
    )

    assert f'href="/u/{other_reader.pk}/"' in response.text


@pytest.mark.parametrize("persona", ["anonymous", "unverified_user"])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_anonymous_and_unverified_users_cannot_preview(client_for, persona, headers):
    response = client_for(persona).post(reverse("forum:comment-preview"), {"body": "hi"}, **headers)

    assert response.status_code == 403
    assert "Log in with a verified email to preview." in response.text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", EMPTY_MESSAGE),
        ("   ", EMPTY_MESSAGE),
        ("w" * 10_001, "A comment can be at most 10000 characters (it has 10001)."),
    ],
)
def test_preview_of_an_empty_or_too_long_body_is_a_400_with_the_message(
    reader_client, body, message
):
    response = reader_client.post(reverse("forum:comment-preview"), {"body": body}, **HX)

    assert response.status_code == 400
    assert text_of(response) == f'<p class="error">{message}</p>'


def test_line_breaks_count_as_one_character_as_the_page_counter_counts_them(reader_client, article):
    # 5,000 lines of "a": 9,999 characters typed; the browser sends each break as CRLF.
    body = "\r\n".join(["a"] * 5000)

    response = reader_client.post(reverse("forum:comment-preview"), {"body": body}, **HX)

    assert response.status_code == 200


def test_preview_only_answers_post(reader_client):
    assert reader_client.get(reverse("forum:comment-preview")).status_code == 405


# --- comment-permalink ---------------------------------------------------------------------


def test_permalink_redirects_to_the_comment_on_its_article_page(client, article, comment):
    reply = CommentFactory(parent=comment)

    for target in (comment, reply):
        response = client.get(url("comment-permalink", target))
        assert response.status_code == 302
        assert response.url == f"{ARTICLE_PATH}?c={target.pk}#c-{target.pk}"


def test_following_a_permalink_shows_the_comment(client, article, comment):
    response = client.get(url("comment-permalink", comment), follow=True)

    assert response.status_code == 200
    assert f'id="c-{comment.pk}"' in response.text


def test_permalink_of_an_unknown_comment_is_404(client):
    assert client.get(reverse("forum:comment-permalink", args=[987654])).status_code == 404


def test_permalink_of_a_comment_on_an_unpublished_article_is_404(client, article, comment):
    Article.objects.filter(pk=article.pk).update(is_published=False)

    assert client.get(url("comment-permalink", comment)).status_code == 404


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (CommentStatus.REMOVED, "This comment has been deleted."),
        (CommentStatus.HIDDEN, "This comment was hidden by a moderator."),
        (CommentStatus.HELD, "This comment is waiting for a moderator’s review."),
    ],
)
def test_the_permalink_of_a_comment_no_longer_shown_says_why(
    client, article, comment, status, message
):
    Comment.objects.filter(pk=comment.pk).update(status=status)

    response = client.get(url("comment-permalink", comment))
    assert response.url == f"{ARTICLE_PATH}#discussion"
    landed = client.get(response.url)

    [shown] = HTMLParser(landed.text).css(".messages .message")
    assert shown.text() == message
    assert "Pods are the unit of scheduling." not in landed.text


def test_the_permalink_of_a_deleted_comment_with_replies_lands_on_its_placeholder(
    client, article, comment
):
    CommentFactory(parent=comment)
    Comment.objects.filter(pk=comment.pk).update(status=CommentStatus.REMOVED)

    response = client.get(url("comment-permalink", comment))

    assert response.url == f"{ARTICLE_PATH}?c={comment.pk}#c-{comment.pk}"
    landed = client.get(response.url)
    assert "This comment has been deleted." in landed.text
    assert f'id="c-{comment.pk}"' in landed.text


# --- Cancel on the reply and edit forms ----------------------------------------------------


def test_cancel_on_a_reply_box_closes_it_in_place(reader_client, comment):
    response = reader_client.get(url("comment-reply", comment) + "?close=1", **HX)

    assert response.status_code == 200
    assert is_fragment(response)
    slot = HTMLParser(response.text).css_first(f"#reply-{comment.pk}")
    assert slot is not None
    assert slot.css_first("form") is None


def test_cancel_on_an_edit_box_puts_the_comment_back_unchanged(reader_client, comment):
    response = reader_client.get(url("comment-edit", comment) + "?close=1", **HX)

    assert response.status_code == 200
    assert is_fragment(response)
    shown = HTMLParser(response.text).css_first(f"#c-{comment.pk}")
    assert shown.css_first("form.edit-form") is None
    assert "Pods are the unit of scheduling." in shown.text()
    comment.refresh_from_db()
    assert comment.edited_at is None


@pytest.mark.parametrize("view", ["comment-reply", "comment-edit"])
def test_cancel_without_htmx_goes_back_to_the_comment(reader_client, comment, view):
    response = reader_client.get(url(view, comment) + "?close=1")

    assert response.status_code == 302
    assert response.url == url("comment-permalink", comment)


def test_cancel_on_someone_elses_edit_box_is_refused(client_for, comment):
    response = client_for("other_reader").get(url("comment-edit", comment) + "?close=1", **HX)

    assert response.status_code == 403

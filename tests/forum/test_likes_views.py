"""Likes through the views: toggling, counts, the button's state, who may like, and the
`recount` command that checks the denormalized counters against the rows they count."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from forum import services
from forum.enums import CommentStatus
from forum.models import Article, Comment, Like
from tests.factories import CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

ARTICLE_PATH = "/columns/deep-k8s/why-pods/"
HX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": f"http://testserver{ARTICLE_PATH}"}
VERIFY_MESSAGE = "Verify your email address to take part in discussions."


@pytest.fixture
def comment(article, other_reader):
    return CommentFactory(article=article, author=other_reader, body="Likeable")


def like_url(comment: Comment) -> str:
    return reverse("forum:comment-like", args=[comment.pk])


def article_like_url(article: Article) -> str:
    return reverse("forum:article-like", args=[article.column.slug, article.slug])


def button(fragment: str, selector: str = "button.like"):
    """(count shown, aria-pressed) of the first like button in the HTML."""
    tree = HTMLParser(fragment)
    node = tree.css_first(selector)
    return int(node.css_first(".like-count").text()), node.attributes.get("aria-pressed")


def comment_button(page_html: str, comment: Comment):
    """The like control inside one comment: (count, aria-pressed or None for the login link)."""
    node = HTMLParser(page_html).css_first(f"#c-{comment.pk} .comment-actions .like")
    return int(node.css_first(".like-count").text()), node.attributes.get("aria-pressed")


def assert_counters_match_rows() -> None:
    for target in Comment.objects.all():
        assert target.like_count == Like.objects.filter(comment=target).count(), target
    for target in Article.objects.all():
        assert target.like_count == Like.objects.filter(article=target).count(), target


def recount(*args: str) -> str:
    out = StringIO()
    call_command("recount", *args, stdout=out)
    return out.getvalue()


# --- comment-like --------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["reader", "column_author", "moderator", "admin_user"])
def test_verified_user_likes_a_comment_and_is_sent_back_to_it(
    client_for, request, persona, comment
):
    response = client_for(persona).post(like_url(comment))

    assert response.status_code == 302
    assert response.url == f"/c/{comment.pk}/"
    like = Like.objects.get()
    assert (like.user, like.comment, like.article) == (
        request.getfixturevalue(persona),
        comment,
        None,
    )
    comment.refresh_from_db()
    assert comment.like_count == 1


def test_liking_twice_takes_the_like_back(reader_client, comment):
    reader_client.post(like_url(comment))
    reader_client.post(like_url(comment))

    comment.refresh_from_db()
    assert comment.like_count == 0
    assert Like.objects.count() == 0


def test_htmx_like_and_unlike_return_the_button_with_count_and_pressed_state(
    reader_client, comment
):
    liked = reader_client.post(like_url(comment), **HX)
    unliked = reader_client.post(like_url(comment), **HX)

    assert liked.status_code == unliked.status_code == 200
    assert "<html" not in liked.text
    assert button(liked.text) == (1, "true")
    assert button(unliked.text) == (0, "false")
    form = HTMLParser(liked.text).css_first("form.like-form")
    assert form.attributes["hx-post"] == form.attributes["action"] == like_url(comment)
    assert form.css_first("input[name=csrfmiddlewaretoken]").attributes["value"]
    assert "Remove your like" in liked.text
    assert "Remove your like" not in unliked.text


def test_likes_of_two_readers_add_up_and_each_sees_their_own_state(client_for, article, comment):
    reader, other = client_for("reader"), client_for("column_author")

    reader.post(like_url(comment), **HX)
    second = other.post(like_url(comment), **HX)

    assert button(second.text) == (2, "true")
    assert comment_button(reader.get(ARTICLE_PATH).text, comment) == (2, "true")
    assert comment_button(client_for("moderator").get(ARTICLE_PATH).text, comment) == (2, "false")
    assert comment_button(client_for("anonymous").get(ARTICLE_PATH).text, comment) == (2, None)


def test_the_page_reflects_an_unlike_after_having_been_cached_with_the_like(reader_client, comment):
    reader_client.post(like_url(comment))
    assert comment_button(reader_client.get(ARTICLE_PATH).text, comment) == (1, "true")

    reader_client.post(like_url(comment))

    assert comment_button(reader_client.get(ARTICLE_PATH).text, comment) == (0, "false")


def test_twenty_users_liking_one_after_another_count_exactly_twenty(article, comment):
    last = None
    for _ in range(20):
        client = Client()
        client.force_login(UserFactory())
        last = client.post(like_url(comment), **HX)

    comment.refresh_from_db()
    assert comment.like_count == 20
    assert Like.objects.filter(comment=comment).count() == 20
    assert button(last.text) == (20, "true")
    assert comment_button(Client().get(ARTICLE_PATH).text, comment) == (20, None)


def test_legacy_likes_are_added_to_the_count_shown(reader_client, comment):
    Comment.objects.filter(pk=comment.pk).update(legacy_like_count=5)

    response = reader_client.post(like_url(comment), **HX)

    assert button(response.text) == (6, "true")
    comment.refresh_from_db()
    assert comment.like_count == 1


def test_a_safe_next_parameter_is_where_the_like_returns(reader_client, comment):
    target = f"{ARTICLE_PATH}?sort=newest"

    response = reader_client.post(like_url(comment), {"next": target})

    assert response.status_code == 302
    assert response.url == target


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "\\\\evil"]
)
def test_an_offsite_next_parameter_is_ignored(reader_client, comment, target):
    response = reader_client.post(like_url(comment), {"next": target})

    assert response.status_code == 302
    assert response.url == f"/c/{comment.pk}/"


def test_anonymous_like_is_sent_to_login_with_next_back_to_the_comment(client, comment):
    response = client.post(like_url(comment))

    assert response.status_code == 302
    assert response.url == f"/accounts/login/?next=/c/{comment.pk}/"
    assert Like.objects.count() == 0


def test_anonymous_htmx_like_gets_an_hx_redirect_to_login(client, comment):
    response = client.post(like_url(comment), **HX)

    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/accounts/login/?next=/c/{comment.pk}/"
    assert Like.objects.count() == 0


def test_anonymous_readers_like_link_on_the_page_logs_in_and_comes_back(client, comment):
    tree = HTMLParser(client.get(ARTICLE_PATH).text)

    link = tree.css_first(f"#c-{comment.pk} a.like")
    assert link.attributes["href"] == f"/accounts/login/?next=/c/{comment.pk}/"


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_unverified_user_cannot_like(client_for, comment, headers):
    response = client_for("unverified_user").post(like_url(comment), **headers)

    assert response.status_code == 403
    assert VERIFY_MESSAGE in response.text
    assert Like.objects.count() == 0
    comment.refresh_from_db()
    assert comment.like_count == 0


@pytest.mark.parametrize("status", [CommentStatus.REMOVED, CommentStatus.HIDDEN])
@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_liking_a_removed_or_hidden_comment_is_a_409(reader_client, comment, status, headers):
    Comment.objects.filter(pk=comment.pk).update(status=status)

    response = reader_client.post(like_url(comment), **headers)

    assert response.status_code == 409
    assert "This comment is no longer visible." in response.text
    assert Like.objects.count() == 0


def test_a_like_cannot_be_taken_back_once_the_comment_is_deleted(reader_client, comment):
    reader_client.post(like_url(comment))
    services.delete_comment(comment=comment)

    response = reader_client.post(like_url(comment))

    assert response.status_code == 409
    comment.refresh_from_db()
    assert comment.like_count == 1
    assert_counters_match_rows()


def test_comment_like_only_answers_post(reader_client, comment):
    assert reader_client.get(like_url(comment)).status_code == 405
    assert Like.objects.count() == 0


def test_liking_an_unknown_comment_is_404(reader_client):
    assert reader_client.post(reverse("forum:comment-like", args=[999999])).status_code == 404


def test_a_like_post_without_a_csrf_token_is_refused(reader, comment):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(reader)

    response = strict.post(like_url(comment), **HX)

    assert response.status_code == 403
    assert Like.objects.count() == 0


# --- article-like --------------------------------------------------------------------------


def test_reader_likes_the_article_and_goes_back_to_it(reader_client, reader, article):
    response = reader_client.post(article_like_url(article))

    assert response.status_code == 302
    assert response.url == ARTICLE_PATH
    like = Like.objects.get()
    assert (like.user, like.article, like.comment) == (reader, article, None)
    article.refresh_from_db()
    assert article.like_count == 1


def test_htmx_article_like_toggles_the_button(reader_client, article):
    liked = reader_client.post(article_like_url(article), **HX)
    unliked = reader_client.post(article_like_url(article), **HX)

    assert button(liked.text) == (1, "true")
    assert button(unliked.text) == (0, "false")
    assert HTMLParser(liked.text).css_first("form").attributes["action"] == article_like_url(
        article
    )
    article.refresh_from_db()
    assert article.like_count == 0
    assert Like.objects.count() == 0


def test_the_article_page_shows_the_readers_article_like(client_for, article):
    reader = client_for("reader")
    reader.post(article_like_url(article))

    mine = reader.get(ARTICLE_PATH).text
    theirs = client_for("other_reader").get(ARTICLE_PATH).text

    assert button(mine, ".article-actions .like") == (1, "true")
    assert button(theirs, ".article-actions .like") == (1, "false")


def test_article_legacy_likes_are_added_to_the_count_shown(reader_client, article):
    Article.objects.filter(pk=article.pk).update(legacy_like_count=41)

    response = reader_client.post(article_like_url(article), **HX)

    assert button(response.text) == (42, "true")


def test_an_article_like_does_not_touch_comment_likes(reader_client, article, comment):
    reader_client.post(like_url(comment))
    reader_client.post(article_like_url(article))

    comment.refresh_from_db()
    article.refresh_from_db()
    assert (comment.like_count, article.like_count) == (1, 1)
    assert_counters_match_rows()


def test_anonymous_article_like_is_sent_to_login_with_next_back_to_the_article(client, article):
    plain = client.post(article_like_url(article))
    htmx = client.post(article_like_url(article), **HX)

    assert plain.status_code == 302
    assert plain.url == f"/accounts/login/?next={ARTICLE_PATH}"
    assert htmx.status_code == 204
    assert htmx.headers["HX-Redirect"] == f"/accounts/login/?next={ARTICLE_PATH}"
    assert Like.objects.count() == 0


@pytest.mark.parametrize("headers", [{}, HX], ids=["plain", "htmx"])
def test_unverified_user_cannot_like_the_article(client_for, article, headers):
    response = client_for("unverified_user").post(article_like_url(article), **headers)

    assert response.status_code == 403
    assert Like.objects.count() == 0


def test_article_like_only_answers_post_and_404s_for_unknown_articles(reader_client, article):
    assert reader_client.get(article_like_url(article)).status_code == 405
    missing = reverse("forum:article-like", args=["deep-k8s", "no-such-chapter"])
    assert reader_client.post(missing).status_code == 404
    Article.objects.filter(pk=article.pk).update(is_published=False)
    assert reader_client.post(article_like_url(article)).status_code == 404
    assert Like.objects.count() == 0


# --- recount -------------------------------------------------------------------------------


@pytest.fixture
def busy_discussion(article, reader, other_reader, column_author):
    """Likes, unlikes and deletes, all through the views."""
    people = {"reader": reader, "other_reader": other_reader, "column_author": column_author}
    clients = {}
    for name, user in people.items():
        clients[name] = Client()
        clients[name].force_login(user)

    root = CommentFactory(article=article, author=reader, body="root")
    reply = CommentFactory(parent=root, author=other_reader, body="reply")
    doomed = CommentFactory(article=article, author=other_reader, body="doomed")
    doomed_reply = CommentFactory(parent=root, author=column_author, body="doomed reply")

    for client in clients.values():
        client.post(like_url(root))
        client.post(like_url(doomed))
        client.post(article_like_url(article))
    clients["reader"].post(like_url(reply))
    clients["column_author"].post(like_url(doomed_reply))
    clients["other_reader"].post(like_url(root))  # unlike
    clients["reader"].post(article_like_url(article))  # unlike
    clients["other_reader"].post(reverse("forum:comment-delete", args=[doomed.pk]))
    clients["column_author"].post(reverse("forum:comment-delete", args=[doomed_reply.pk]))
    clients["reader"].post(like_url(reply))  # unlike
    clients["reader"].post(like_url(reply))  # like again

    return {"root": root, "reply": reply, "doomed": doomed, "doomed_reply": doomed_reply}


def test_counters_match_the_rows_after_likes_unlikes_and_deletes(article, busy_discussion):
    root, reply = busy_discussion["root"], busy_discussion["reply"]
    root.refresh_from_db()
    reply.refresh_from_db()
    article.refresh_from_db()

    assert (root.like_count, reply.like_count, article.like_count) == (2, 1, 2)
    assert root.reply_count == 1
    assert article.comment_count == 2
    assert_counters_match_rows()


def test_recount_check_passes_after_likes_unlikes_and_deletes(busy_discussion):
    output = recount("--check")

    assert "All counters are right." in output


@pytest.mark.parametrize(
    ("model", "key", "field"),
    [
        (Comment, "root", "like_count"),
        (Comment, "root", "reply_count"),
        (Article, None, "like_count"),
        (Article, None, "comment_count"),
    ],
)
def test_recount_check_fails_on_a_corrupted_counter_and_recount_fixes_it(
    article, busy_discussion, model, key, field
):
    target = busy_discussion[key] if key else article
    right = getattr(model.objects.get(pk=target.pk), field)
    model.objects.filter(pk=target.pk).update(**{field: 99})

    with pytest.raises(CommandError, match=r"1 counter\(s\) drifted"):
        recount("--check")
    still_wrong = getattr(model.objects.get(pk=target.pk), field)
    fixed_output = recount()

    assert still_wrong == 99  # --check changes nothing
    assert f"{model.__name__} #{target.pk} {field}: stored 99, counted {right}" in fixed_output
    assert "Fixed 1 counter(s)." in fixed_output
    assert getattr(model.objects.get(pk=target.pk), field) == right
    assert "All counters are right." in recount("--check")


def test_recount_check_reports_every_drifted_counter(article, busy_discussion):
    root = busy_discussion["root"]
    Comment.objects.filter(pk=root.pk).update(like_count=99)
    Article.objects.filter(pk=article.pk).update(like_count=7)

    out = StringIO()
    with pytest.raises(CommandError, match=r"2 counter\(s\) drifted"):
        call_command("recount", "--check", stdout=out)

    assert f"Comment #{root.pk} like_count: stored 99, counted 2" in out.getvalue()
    assert f"Article #{article.pk} like_count: stored 7, counted 2" in out.getvalue()


def test_after_recount_the_page_shows_the_true_count_not_a_cached_one(client, busy_discussion):
    root = busy_discussion["root"]
    assert comment_button(client.get(ARTICLE_PATH).text, root) == (2, None)  # now cached
    Comment.objects.filter(pk=root.pk).update(like_count=99)
    services.set_comment_featured(comment=root, featured=True)  # a write: the cache renews
    assert comment_button(client.get(ARTICLE_PATH).text, root) == (99, None)

    recount()

    assert comment_button(client.get(ARTICLE_PATH).text, root) == (2, None)


def test_liking_through_the_view_after_a_recount_keeps_counters_right(
    reader_client, busy_discussion
):
    reply = busy_discussion["reply"]
    Comment.objects.filter(pk=reply.pk).update(like_count=99)
    recount()

    response = reader_client.post(like_url(reply), **HX)  # reader liked it: this unlikes

    assert button(response.text) == (0, "false")
    assert "All counters are right." in recount("--check")

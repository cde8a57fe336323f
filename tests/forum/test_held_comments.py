"""A comment held for review stays in sight of its author alone, marked as waiting.

Held: a new account's link, or reported enough (forum.policy). Before, it simply vanished
for its author, who could think the site lost it or post it again.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from forum.enums import CommentStatus
from forum.models import Comment
from moderation import services as moderation
from notifications.enums import Kind
from notifications.models import Notification
from tests.factories import CommentFactory

pytestmark = pytest.mark.django_db

SECRET = "Held words, not for everyone yet"


@pytest.fixture
def held(article, reader, other_reader):
    parent = CommentFactory(article=article, author=other_reader, body="A visible root")
    comment = CommentFactory(parent=parent, author=reader, body=SECRET)
    Comment.objects.filter(pk=comment.pk).update(status=CommentStatus.HELD)
    comment.refresh_from_db()
    return comment


def _held_block(response):
    return HTMLParser(response.text).css_first(".held-comments")


@pytest.mark.parametrize("warm", [False, True], ids=["first-visit", "cached-page"])
def test_its_author_sees_it_marked_waiting_for_review(client, article, reader, held, warm):
    if warm:
        client.get(article.get_absolute_url())  # the anonymous page is cached first
    client.force_login(reader)

    response = client.get(article.get_absolute_url())

    block = _held_block(response)
    assert block is not None
    item = block.css_first(f"#held-{held.pk}")
    assert item.css_first(".badge-held").text() == "waiting for review"
    assert item.css_first(".comment-body").text().strip() == SECRET
    assert "replying to @other_reader" in item.text()
    assert "Only you can see these" in block.text()


@pytest.mark.parametrize("persona", ["anonymous", "other_reader", "moderator"])
def test_nobody_else_sees_it_on_the_page(client_for, article, held, persona):
    response = client_for(persona).get(article.get_absolute_url())

    assert response.status_code == 200
    assert _held_block(response) is None
    assert SECRET not in response.text


def test_a_reader_with_nothing_held_pays_no_extra_query(client, article, reader, held):
    Comment.objects.filter(pk=held.pk).update(status=CommentStatus.VISIBLE)
    client.get(article.get_absolute_url())
    client.force_login(reader)
    client.get(article.get_absolute_url())

    with CaptureQueriesContext(connection) as queries:
        response = client.get(article.get_absolute_url())

    assert len(queries) == 2  # the user, the page's state (as without this feature)
    assert _held_block(response) is None


def test_with_something_held_the_cached_page_takes_one_query_more(client, article, reader, held):
    client.get(article.get_absolute_url())
    client.force_login(reader)
    client.get(article.get_absolute_url())

    with CaptureQueriesContext(connection) as queries:
        client.get(article.get_absolute_url())

    assert len(queries) == 3


def test_its_permalink_takes_its_author_to_it(client, article, reader, held):
    client.force_login(reader)

    response = client.get(held.get_absolute_url())

    assert response.url == f"{article.get_absolute_url()}#held-{held.pk}"


def test_approval_takes_it_out_of_waiting_and_tells_its_author(
    client, article, reader, moderator, held, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        moderation.approve_comment(comment=held, by=moderator)

    notice = Notification.objects.get(recipient=reader)
    assert notice.kind == Kind.APPROVED
    assert notice.comment_id == held.pk
    [email] = [m for m in mailoutbox if m.to == [reader.email]]
    assert email.subject.startswith(f"Your comment on “{article.title}” was approved")
    client.force_login(reader)
    page = client.get(article.get_absolute_url())
    assert _held_block(page) is None
    assert page.text.count(SECRET) == 1  # in the thread now, like anyone's


def test_removal_tells_its_author_with_the_reason(
    article, reader, moderator, held, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        moderation.remove_comment(comment=held, by=moderator, reason="Spam link")

    notice = Notification.objects.get(recipient=reader)
    assert notice.kind == Kind.MODERATED
    assert notice.reason == "Spam link"

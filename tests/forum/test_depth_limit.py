"""Replies stop getting deeper at MAX_DEPTH (PostgreSQL refused the 200th level: the path is a
varchar(2000)). A reply to the deepest comment goes beside it and @mentions who it answers."""

from __future__ import annotations

import pytest
from django.urls import reverse

from forum import services
from forum.models import MAX_DEPTH, Comment
from notifications.enums import Kind
from notifications.models import Notification
from tests.events import dispatch_events
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def deepest(article, reader, other_reader) -> Comment:
    """A thread MAX_DEPTH replies deep, the two readers answering each other."""
    comment = services.post_comment(article=article, author=reader, body="root")
    for level in range(1, MAX_DEPTH + 1):
        author = other_reader if level % 2 else reader
        comment = services.post_comment(
            article=article, author=author, body=f"level {level}", parent=comment
        )
    assert comment.depth == MAX_DEPTH
    return comment


def test_a_reply_to_the_deepest_comment_goes_beside_it_and_names_who_it_answers(
    client_for, deepest
):
    response = client_for("moderator").post(
        reverse("forum:comment-reply", args=[deepest.pk]), {"body": "Still going."}
    )

    assert response.status_code == 302
    reply = Comment.objects.latest("pk")
    assert reply.depth == MAX_DEPTH
    assert reply.parent_id == deepest.parent_id
    assert reply.body_md == f"@{deepest.author.display_name} Still going."
    assert f'href="{deepest.author.get_absolute_url()}"' in reply.body_html
    assert len(reply.path) <= Comment._meta.get_field("path").max_length
    dispatch_events()
    assert Notification.objects.filter(recipient=deepest.author, kind=Kind.MENTION).exists()


def test_a_reply_that_already_names_the_person_is_not_prefixed_twice(deepest, moderator):
    name = deepest.author.display_name
    reply = services.post_comment(
        article=deepest.article, author=moderator, body=f"@{name} agreed", parent=deepest
    )

    assert reply.body_md == f"@{name} agreed"
    assert reply.depth == MAX_DEPTH


def test_replies_below_the_limit_nest_as_before(article, reader):
    root = services.post_comment(article=article, author=reader, body="root")
    reply = services.post_comment(
        article=article, author=UserFactory(), body="a reply", parent=root
    )

    assert (reply.depth, reply.parent_id, reply.body_md) == (1, root.pk, "a reply")


def test_the_thread_page_at_the_limit_renders(client, deepest):
    services.post_comment(
        article=deepest.article, author=UserFactory(), body="beside", parent=deepest
    )

    response = client.get(deepest.article.get_absolute_url())

    assert response.status_code == 200  # not a 500 on the deepest thread
    assert "root" in response.text

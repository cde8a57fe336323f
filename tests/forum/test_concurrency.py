"""Likes under real concurrency: PostgreSQL, one thread per click."""

from __future__ import annotations

import pytest
from django.db import connection

from forum import services
from forum.models import Comment, Like
from tests.factories import CommentFactory, UserFactory
from tests.helpers import run_at_once

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _needs_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: run with DATABASE_URL=postgres://… (make test does)")


def test_twenty_users_liking_the_same_comment_at_once_count_exactly_twenty():
    comment = CommentFactory()
    users = [UserFactory() for _ in range(20)]

    run_at_once(
        [lambda user=user: services.toggle_like(user=user, comment=comment) for user in users]
    )

    comment.refresh_from_db()
    assert Like.objects.filter(comment=comment).count() == 20
    assert comment.like_count == 20


def test_a_double_click_by_one_user_likes_once():
    comment = CommentFactory()
    user = UserFactory()

    run_at_once([lambda: services.toggle_like(user=user, comment=comment)] * 2)

    comment.refresh_from_db()
    assert Like.objects.filter(comment=comment, user=user).count() == 1
    assert comment.like_count == 1


def test_concurrent_replies_keep_reply_and_comment_counts_exact():
    root = CommentFactory()
    users = [UserFactory() for _ in range(10)]

    run_at_once(
        [
            lambda user=user: services.post_comment(
                article=root.article, author=user, body="me too", parent=root
            )
            for user in users
        ]
    )

    root.refresh_from_db()
    root.article.refresh_from_db()
    assert root.reply_count == 10
    assert root.article.comment_count == 11
    assert Comment.objects.filter(root=root).count() == 11

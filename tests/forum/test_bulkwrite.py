"""forum.bulkwrite: ids nobody else is given, complete rows with the models' defaults."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from forum import bulkwrite
from forum.enums import CommentStatus
from forum.models import Comment, path_segment
from tests.factories import ArticleFactory, CommentFactory, UserFactory


@pytest.mark.django_db(transaction=True)
def test_ids_are_reserved_only_inside_a_transaction():
    with pytest.raises(transaction.TransactionManagementError):
        bulkwrite.reserve_ids(Comment, 3)


@pytest.mark.django_db
def test_reserved_ids_are_never_given_to_a_later_insert_nor_reused_after_a_delete():
    gone = UserFactory()
    gone_id = gone.pk
    gone.delete()

    reserved = bulkwrite.reserve_ids(User, 5)
    later = UserFactory()

    assert len(set(reserved)) == 5
    assert min(reserved) > gone_id  # the id of a deleted row isn't handed out again
    assert later.pk > max(reserved)
    assert bulkwrite.reserve_ids(User, 0) == []


@pytest.mark.django_db
def test_rows_get_the_given_values_and_every_other_field_its_default():
    article = ArticleFactory()
    author = UserFactory()
    pk = bulkwrite.reserve_ids(Comment, 1)[0]
    when = timezone.now().replace(microsecond=0)

    bulkwrite.insert(
        Comment,
        ("id", "article_id", "author_id", "root_id", "path", "body_md", "body_html", "created_at"),
        [(pk, article.pk, author.pk, pk, path_segment(pk), "hi", "<p>hi</p>", when)],
    )

    comment = Comment.objects.get(pk=pk)
    assert (comment.article, comment.author, comment.root_id) == (article, author, pk)
    assert (comment.body_md, comment.body_html, comment.created_at) == ("hi", "<p>hi</p>", when)
    assert comment.parent is None and comment.depth == 0
    assert comment.status == CommentStatus.VISIBLE
    assert (comment.like_count, comment.reply_count, comment.is_featured) == (0, 0, False)
    assert comment.edited_at is None and comment.legacy_key is None


@pytest.mark.django_db
def test_an_unknown_field_is_refused_and_nothing_is_written():
    with pytest.raises(ValueError, match="no fields"):
        bulkwrite.insert(Comment, ("id", "text"), [(1, "x")])
    assert not Comment.objects.exists()


@pytest.mark.django_db
def test_a_row_the_database_refuses_is_a_django_integrity_error():
    taken = CommentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        bulkwrite.insert(
            Comment,
            ("id", "article_id", "author_id", "body_md", "body_html"),
            [(taken.pk, taken.article_id, taken.author_id, "again", "again")],
        )
    assert Comment.objects.get().body_md == taken.body_md

"""Who is told about what: every rule of issue "notifications", exercised through the forum's
services (the way the site triggers them), asserting the Notification rows they leave.

One action tells each person once, with the most important kind; nobody hears about their own
action; inactive people hear nothing; legacy accounts without an email hear on the site only.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from forum import services as forum
from forum.models import Follow
from notifications import services
from notifications.enums import Kind
from notifications.models import Notification, OutgoingEmail
from tests.events import dispatch_events
from tests.factories import ArticleFactory, CommentFactory, UserFactory

pytestmark = pytest.mark.django_db


def told(comment=None, *, article=None) -> dict[str, str]:
    """{display name: kind} of everyone notified about this comment (or this chapter)."""
    dispatch_events()
    rows = Notification.objects.select_related("recipient")
    rows = rows.filter(comment=comment) if comment is not None else rows.filter(article=article)
    return {n.recipient.display_name: n.kind for n in rows}


def count(comment) -> int:
    dispatch_events()
    return Notification.objects.filter(comment=comment).count()


# --- Replies ---------------------------------------------------------------------------------


def test_a_reply_notifies_the_author_of_the_comment_it_answers(article, reader, other_reader):
    parent = CommentFactory(article=article, author=reader)

    reply = CommentFactory(parent=parent, author=other_reader)

    dispatch_events()
    assert told(reply) == {"reader": Kind.REPLY}
    dispatch_events()
    notification = Notification.objects.get(comment=reply)
    assert notification.actor == other_reader
    assert notification.article == article
    assert notification.read_at is None


def test_a_reply_deep_in_a_thread_tells_only_the_parent_author_not_the_root_author(
    article, reader, other_reader
):
    third = UserFactory(display_name="third")
    root = CommentFactory(article=article, author=reader)
    middle = CommentFactory(parent=root, author=other_reader)

    reply = CommentFactory(parent=middle, author=third)

    dispatch_events()
    assert told(reply) == {"other_reader": Kind.REPLY}


def test_the_article_authors_reply_tells_the_parent_and_the_thread_root_author_once_each(
    article, column_author, reader, other_reader
):
    root = CommentFactory(article=article, author=reader)
    middle = CommentFactory(parent=root, author=other_reader)

    answer = CommentFactory(parent=middle, author=column_author)

    dispatch_events()
    assert told(answer) == {"other_reader": Kind.AUTHOR_REPLY, "reader": Kind.AUTHOR_REPLY}
    assert count(answer) == 2


def test_the_article_authors_reply_to_a_root_tells_its_author_once(article, column_author, reader):
    root = CommentFactory(article=article, author=reader)

    answer = CommentFactory(parent=root, author=column_author)

    dispatch_events()
    assert told(answer) == {"reader": Kind.AUTHOR_REPLY}
    assert count(answer) == 1


def test_the_article_authors_reply_deep_in_a_thread_also_tells_the_root_author_once(
    article, column_author, reader, other_reader
):
    """Root by reader → other_reader → reader again → the author answers reader's reply: the
    parent author and the root author are the same person, told once."""
    root = CommentFactory(article=article, author=reader)
    middle = CommentFactory(parent=root, author=other_reader)
    again = CommentFactory(parent=middle, author=reader)

    answer = CommentFactory(parent=again, author=column_author)

    dispatch_events()
    assert told(answer) == {"reader": Kind.AUTHOR_REPLY}
    assert count(answer) == 1


# --- New root comments -----------------------------------------------------------------------


def test_a_new_root_comment_tells_the_column_author(article, reader):
    comment = CommentFactory(article=article, author=reader)

    dispatch_events()
    assert told(comment) == {"column_author": Kind.NEW_ROOT_COMMENT}


def test_a_new_root_comment_tells_nobody_when_the_column_author_opted_out(article, column, reader):
    column.notify_author_of_comments = False
    column.save(update_fields=["notify_author_of_comments"])
    article.refresh_from_db()

    comment = CommentFactory(article=article, author=reader)

    dispatch_events()
    assert told(comment) == {}


def test_a_reply_does_not_tell_the_column_author_as_a_new_root_comment(
    article, reader, other_reader
):
    root = CommentFactory(article=article, author=reader)

    reply = CommentFactory(parent=root, author=other_reader)

    dispatch_events()
    assert "column_author" not in told(reply)


# --- Mentions --------------------------------------------------------------------------------


def test_a_mention_tells_the_mentioned_person(article, reader, other_reader):
    comment = CommentFactory(
        article=article, author=reader, body="What do you think, @other_reader?"
    )

    dispatch_events()
    assert told(comment)["other_reader"] == Kind.MENTION


def test_a_mention_of_someone_who_does_not_exist_tells_nobody_extra(article, reader):
    comment = CommentFactory(article=article, author=reader, body="Hello @nobody_here")

    dispatch_events()
    assert told(comment) == {"column_author": Kind.NEW_ROOT_COMMENT}


def test_a_mention_inside_code_tells_nobody(article, reader, other_reader):
    comment = CommentFactory(article=article, author=reader, body="Run `@other_reader` please")

    dispatch_events()
    assert "other_reader" not in told(comment)


def test_an_edit_that_adds_a_mention_tells_the_newly_mentioned_person(
    article, reader, other_reader
):
    comment = CommentFactory(article=article, author=reader, body="Anyone?")

    forum.edit_comment(comment=comment, body="Anyone? @other_reader knows this.")

    dispatch_events()
    assert told(comment)["other_reader"] == Kind.MENTION
    dispatch_events()
    assert OutgoingEmail.objects.filter(recipient=other_reader, kind=Kind.MENTION).count() == 1


def test_an_edit_does_not_tell_the_already_mentioned_again(article, reader, other_reader):
    comment = CommentFactory(article=article, author=reader, body="Hi @other_reader")
    forum.edit_comment(comment=comment, body="Hi @other_reader, and @reader too")
    forum.edit_comment(comment=comment, body="Hello @other_reader (edited twice)")

    assert count(comment) == 2  # the column's author (a new comment) and other_reader, once
    dispatch_events()
    assert told(comment)["other_reader"] == Kind.MENTION


def test_an_edit_mentioning_the_person_replied_to_adds_nothing(article, reader, other_reader):
    parent = CommentFactory(article=article, author=other_reader)
    reply = CommentFactory(parent=parent, author=reader, body="I agree")

    forum.edit_comment(comment=reply, body="I agree, @other_reader")

    dispatch_events()
    assert told(reply) == {"other_reader": Kind.REPLY}


def test_an_edit_of_a_hidden_comment_tells_nobody(article, reader, other_reader):
    comment = CommentFactory(article=article, author=reader, body="first")
    forum.set_comment_status(comment, "hidden")

    forum.edit_comment(comment=comment, body="now with @other_reader")

    dispatch_events()
    assert "other_reader" not in told(comment)


# --- One notification per person and action: the most important kind wins -------------------


def _follow_article(user, article):
    Follow.objects.create(user=user, article=article)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        # A reply that also mentions the parent's author.
        ("reply+mention", Kind.REPLY),
        # The article author answers and mentions the parent's author.
        ("author_reply+mention", Kind.AUTHOR_REPLY),
        # The parent's author follows the article.
        ("reply+followed_thread", Kind.REPLY),
        # The parent's author follows the article and the article author answers.
        ("author_reply+followed_thread", Kind.AUTHOR_REPLY),
        # A follower of the article is mentioned.
        ("mention+followed_thread", Kind.MENTION),
        # A root comment mentions the column author.
        ("new_root_comment+mention", Kind.MENTION),
        # The column author follows their own article.
        ("new_root_comment+followed_thread", Kind.NEW_ROOT_COMMENT),
        # All three at once.
        ("reply+mention+followed_thread", Kind.REPLY),
        ("author_reply+mention+followed_thread", Kind.AUTHOR_REPLY),
    ],
)
def test_one_action_tells_each_person_once_with_the_most_important_kind(
    setup, expected, article, column_author, reader, other_reader
):
    parts = set(setup.split("+"))
    target = column_author if "new_root_comment" in parts else reader
    if "followed_thread" in parts:
        _follow_article(target, article)
    mention = f" @{target.display_name}" if "mention" in parts else ""
    if "new_root_comment" in parts:
        comment = CommentFactory(article=article, author=reader, body=f"A root{mention}")
    elif "mention" in parts and not parts & {"reply", "author_reply"}:
        comment = CommentFactory(article=article, author=other_reader, body=f"Hi{mention}")
    else:
        parent = CommentFactory(article=article, author=reader)
        actor = column_author if "author_reply" in parts else other_reader
        comment = CommentFactory(parent=parent, author=actor, body=f"An answer{mention}")

    dispatch_events()
    rows = Notification.objects.filter(comment=comment, recipient=target)

    assert [row.kind for row in rows] == [expected]
    # …and that one notification is the only email queued for it.
    dispatch_events()
    assert OutgoingEmail.objects.filter(recipient=target, kind__in=Kind.values).count() <= 1


def test_the_root_author_mentioned_in_the_authors_deep_reply_is_told_once(
    article, column_author, reader, other_reader
):
    root = CommentFactory(article=article, author=reader)
    middle = CommentFactory(parent=root, author=other_reader)

    answer = CommentFactory(parent=middle, author=column_author, body="Also @reader, see this")

    dispatch_events()
    assert told(answer) == {"other_reader": Kind.AUTHOR_REPLY, "reader": Kind.AUTHOR_REPLY}


def test_mentioning_the_same_person_twice_tells_them_once(article, reader, other_reader):
    comment = CommentFactory(
        article=article, author=reader, body="@other_reader and again @Other_Reader"
    )

    dispatch_events()
    assert Notification.objects.filter(comment=comment, recipient=other_reader).count() == 1


# --- Follows ---------------------------------------------------------------------------------


def test_followers_of_an_article_hear_of_every_new_comment(article, reader, other_reader):
    follower = UserFactory(display_name="follower")
    _follow_article(follower, article)
    root = CommentFactory(article=article, author=reader)

    reply = CommentFactory(parent=root, author=other_reader)

    dispatch_events()
    assert told(root)["follower"] == Kind.FOLLOWED_THREAD
    dispatch_events()
    assert told(reply)["follower"] == Kind.FOLLOWED_THREAD


def test_following_another_article_tells_nothing(article, column, reader):
    follower = UserFactory(display_name="follower")
    elsewhere = ArticleFactory(column=column, title="Elsewhere")
    _follow_article(follower, elsewhere)

    comment = CommentFactory(article=article, author=reader)

    dispatch_events()
    assert "follower" not in told(comment)


def test_followers_of_a_column_hear_of_a_new_chapter(column, column_author, reader):
    Follow.objects.create(user=reader, column=column)
    Follow.objects.create(user=column_author, column=column)  # the author's own column
    outsider = UserFactory(display_name="outsider")
    Follow.objects.create(user=outsider, column=ArticleFactory().column)

    chapter = forum.publish_article(column=column, title="Chapter Two", body_md="More.")

    dispatch_events()
    assert told(article=chapter) == {"reader": Kind.NEW_CHAPTER}
    dispatch_events()
    notification = Notification.objects.get(article=chapter)
    assert notification.comment is None
    assert notification.actor == column_author


# --- Featured --------------------------------------------------------------------------------


def test_featuring_a_comment_tells_its_author_once_however_often_it_is_featured(
    article, column_author, reader
):
    comment = CommentFactory(article=article, author=reader)

    forum.set_comment_featured(comment=comment, featured=True, by=column_author)
    forum.set_comment_featured(comment=comment, featured=False, by=column_author)
    forum.set_comment_featured(comment=comment, featured=True, by=column_author)

    dispatch_events()
    featured = Notification.objects.filter(recipient=reader, comment=comment)
    assert [(n.kind, n.actor) for n in featured] == [(Kind.FEATURED, column_author)]
    dispatch_events()
    assert OutgoingEmail.objects.filter(recipient=reader, kind=Kind.FEATURED).count() == 1


def test_featuring_by_a_moderator_names_the_moderator(article, moderator, reader):
    comment = CommentFactory(article=article, author=reader)

    forum.set_comment_featured(comment=comment, featured=True, by=moderator)

    dispatch_events()
    assert Notification.objects.get(recipient=reader, comment=comment).actor == moderator


# --- Nobody hears about their own action -----------------------------------------------------


def test_replying_to_yourself_tells_nobody(article, reader):
    root = CommentFactory(article=article, author=reader)

    reply = CommentFactory(parent=root, author=reader)

    dispatch_events()
    assert told(reply) == {}


def test_mentioning_yourself_tells_nobody(article, reader, other_reader):
    root = CommentFactory(article=article, author=other_reader)

    reply = CommentFactory(parent=root, author=reader, body="As I, @reader, said")

    dispatch_events()
    assert told(reply) == {"other_reader": Kind.REPLY}


def test_the_author_commenting_on_their_own_article_tells_nobody(article, column_author):
    _follow_article(column_author, article)

    comment = CommentFactory(article=article, author=column_author)

    dispatch_events()
    assert told(comment) == {}


def test_the_author_featuring_their_own_comment_tells_nobody(article, column_author):
    comment = CommentFactory(article=article, author=column_author)

    forum.set_comment_featured(comment=comment, featured=True, by=column_author)

    dispatch_events()
    assert Notification.objects.filter(comment=comment).count() == 0


def test_a_follower_commenting_is_not_told_of_their_own_comment(article, reader):
    _follow_article(reader, article)

    comment = CommentFactory(article=article, author=reader)

    dispatch_events()
    assert "reader" not in told(comment)


# --- Who can't be told -----------------------------------------------------------------------


def test_inactive_people_are_told_nothing(article, column, reader, other_reader):
    gone = UserFactory(display_name="gone")
    root = CommentFactory(article=article, author=gone)
    _follow_article(gone, article)
    Follow.objects.create(user=gone, column=column)
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    reply = CommentFactory(parent=root, author=reader, body="@gone are you there?")
    forum.set_comment_featured(comment=root, featured=True, by=column.author)
    chapter = forum.publish_article(column=column, title="Later", body_md="…")

    dispatch_events()
    assert Notification.objects.filter(recipient=gone).count() == 0
    dispatch_events()
    assert OutgoingEmail.objects.filter(recipient=gone).count() == 0
    dispatch_events()
    assert told(reply) == {}
    dispatch_events()
    assert told(article=chapter) == {}


def test_a_legacy_account_without_email_is_told_on_the_site_only(article, other_reader):
    legacy = UserFactory(display_name="oldtimer", email=None, is_legacy=True, verified=False)
    root = CommentFactory(article=article, author=legacy)

    reply = CommentFactory(parent=root, author=other_reader)

    dispatch_events()
    assert told(reply) == {"oldtimer": Kind.REPLY}
    dispatch_events()
    notification = Notification.objects.get(comment=reply)
    assert not notification.in_digest
    dispatch_events()
    assert OutgoingEmail.objects.filter(recipient=legacy).count() == 0


# --- Moderation ------------------------------------------------------------------------------


def test_moderating_a_comment_tells_its_author_why(article, moderator, reader):
    comment = CommentFactory(article=article, author=reader)

    created = services.notify_comment_moderated(comment=comment, by=moderator, reason="Off-topic")

    dispatch_events()
    notification = Notification.objects.get(recipient=reader, kind=Kind.MODERATED)
    assert created == [notification]
    assert notification.reason == "Off-topic"
    assert notification.actor == moderator
    assert notification.comment == comment
    dispatch_events()
    email = OutgoingEmail.objects.get(recipient=reader, kind=Kind.MODERATED)
    assert "Off-topic" in email.body_text


def test_a_comment_moderated_twice_tells_its_author_twice(article, moderator, reader, column):
    comment = CommentFactory(article=article, author=reader)
    forum.set_comment_featured(comment=comment, featured=True, by=column.author)

    services.notify_comment_moderated(comment=comment, by=moderator, reason="Hidden: spam?")
    services.notify_comment_moderated(comment=comment, by=moderator, reason="Restored")

    dispatch_events()
    kinds = sorted(Notification.objects.filter(recipient=reader).values_list("kind", "reason"))
    assert kinds == [
        (Kind.FEATURED, ""),
        (Kind.MODERATED, "Hidden: spam?"),
        (Kind.MODERATED, "Restored"),
    ]


def test_a_moderator_moderating_their_own_comment_tells_nobody(article, moderator):
    comment = CommentFactory(article=article, author=moderator)

    assert services.notify_comment_moderated(comment=comment, by=moderator, reason="x") == []
    dispatch_events()
    assert Notification.objects.filter(kind=Kind.MODERATED).count() == 0


# --- Transactions ----------------------------------------------------------------------------


def test_a_comment_that_fails_leaves_no_notification(article, reader, other_reader):
    from django.db import transaction

    root = CommentFactory(article=article, author=reader)

    with pytest.raises(RuntimeError), transaction.atomic():
        CommentFactory(parent=root, author=other_reader)
        raise RuntimeError("the request failed after the comment")

    dispatch_events()
    assert Notification.objects.filter(recipient=reader).count() == 0
    dispatch_events()
    assert OutgoingEmail.objects.filter(recipient=reader).count() == 0


# --- Chapters published outside the service --------------------------------------------------


def test_a_chapter_added_in_the_admin_tells_the_columns_followers(
    client, admin_user, column, column_author, reader
):
    from django.urls import reverse

    Follow.objects.create(user=reader, column=column)
    client.force_login(admin_user)
    now = timezone.localtime()

    response = client.post(
        reverse("admin:forum_article_add"),
        {
            "column": column.pk,
            "title": "Chapter Three",
            "slug": "chapter-three",
            "position": 3,
            "author": column_author.pk,
            "body_md": "Text.",
            "is_published": "on",
            "published_at_0": now.date().isoformat(),
            "published_at_1": now.time().strftime("%H:%M:%S"),
            "created_at_0": now.date().isoformat(),
            "created_at_1": now.time().strftime("%H:%M:%S"),
        },
    )

    assert response.status_code == 302, response.content[:2000]
    chapter = column.articles.get(slug="chapter-three")
    dispatch_events()
    assert told(article=chapter) == {"reader": Kind.NEW_CHAPTER}

"""Every email kind, with hostile names, titles, texts and reasons: the HTML bodies carry no
live markup, the subject and plain-text bodies show the words exactly as typed.

Routes in for such names and titles: a legacy-imported display name (the importer doesn't apply
the name validator) on an account later claimed; a chapter title from a legacy file name.
"""

from __future__ import annotations

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from accounts.models import User
from forum.models import Article
from notifications import services
from notifications.enums import Kind
from notifications.models import Notification, OutgoingEmail
from tests.factories import CommentFactory

pytestmark = pytest.mark.django_db

NAME = '"><img src=x onerror=alert(1)>'  # display names are at most 30 characters
TITLE = "<svg onload=alert(2)>Pods & </title><b>bold</b>"
TEXT = "<img src=x onerror=alert(3)> & &lt;b&gt;"
REASON = "<a href=javascript:alert(4)>why</a>"


@pytest.fixture
def hostile(article, reader, other_reader):
    User.objects.filter(pk=other_reader.pk).update(display_name=NAME)
    Article.objects.filter(pk=article.pk).update(title=TITLE)
    comment = CommentFactory(article=article, author=other_reader, body=TEXT)
    actor = User.objects.get(pk=other_reader.pk)
    return actor, Article.objects.get(pk=article.pk), comment


def _assert_inert_html(email: OutgoingEmail) -> str:
    """No live markup in the HTML body; its visible text reads as the plain one (escaped once)."""
    tree = HTMLParser(email.body_html)
    assert tree.css("script, img, svg, b, iframe") == [], email.body_html
    for node in tree.css("*"):
        assert not [a for a in node.attributes if a.lower().startswith("on")], node.html
        href = node.attributes.get("href") or ""
        assert not href.lower().startswith("javascript:"), node.html
    text = tree.body.text()
    assert "&lt;" not in text and "&amp;" not in text, text  # not escaped twice
    return text


def _assert_literal(text: str) -> None:
    assert "&lt;" not in text and "&amp;" not in text and "&quot;" not in text, text


@pytest.mark.parametrize("kind", [k for k in Kind.values if k != Kind.NEW_CHAPTER])
def test_every_notification_email_escapes_what_people_typed(hostile, reader, kind):
    actor, article, comment = hostile
    notification = Notification.objects.create(
        recipient=reader, kind=kind, actor=actor, comment=comment, article=article, reason=REASON
    )

    email = services._build_email(notification)

    shown = _assert_inert_html(email)
    assert TITLE in email.subject
    assert email.subject in shown
    _assert_literal(email.subject)
    _assert_literal(email.body_text)
    assert email.subject in email.body_text
    if kind in (Kind.AUTHOR_REPLY, Kind.REPLY, Kind.MENTION):
        assert NAME in email.subject


def test_the_new_chapter_email_escapes_the_title(hostile, reader):
    actor, article, _ = hostile
    notification = Notification.objects.create(
        recipient=reader, kind=Kind.NEW_CHAPTER, actor=actor, article=article
    )

    email = services._build_email(notification)

    tree = HTMLParser(email.body_html)
    assert tree.css("script, img, svg, b") == []
    assert TITLE in tree.body.text()
    assert TITLE in email.subject


def test_the_digest_escapes_every_item(hostile, reader):
    actor, article, _ = hostile
    for kind in (Kind.REPLY, Kind.MENTION, Kind.FOLLOWED_THREAD):
        Notification.objects.create(
            recipient=reader,
            kind=kind,
            actor=actor,
            comment=CommentFactory(article=article, author=actor, body=TEXT),
            article=article,
            in_digest=True,
        )

    services.send_digests()

    email = OutgoingEmail.objects.get(recipient=reader, kind="")
    shown = _assert_inert_html(email)
    assert shown.count(NAME) == 2  # reply, mention (the followed thread names no one)
    assert shown.count(TITLE) == 3
    _assert_literal(email.body_text)
    assert email.body_text.count(NAME) == 2

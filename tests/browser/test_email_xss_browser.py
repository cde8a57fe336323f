"""Every email kind's HTML body, built with hostile names, titles, texts and reasons, loaded in
Chromium: nothing runs (no dialog, no probe set), whatever the mail client would do with it."""

from __future__ import annotations

import pytest

from accounts.models import User
from forum.models import Article
from notifications import services
from notifications.enums import Kind
from notifications.models import Notification, OutgoingEmail
from tests.factories import CommentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAYLOADS = [
    "<script>window.__xss=1</script>",
    '"><img src=x onerror="window.__xss=2;alert(2)">',
    "<svg onload=window.__xss=3>",
    "<iframe srcdoc='<script>parent.__xss=4</script>'>",
    "</title><body onload=alert(5)>",
]


def test_no_email_body_runs_anything(page, article, reader, other_reader):
    hostile = " ".join(PAYLOADS)
    User.objects.filter(pk=other_reader.pk).update(display_name='"><img src=x onerror=alert(1)>')
    Article.objects.filter(pk=article.pk).update(title=hostile[:200])
    actor = User.objects.get(pk=other_reader.pk)
    article.refresh_from_db()
    bodies = []
    for kind in Kind.values:
        comment = CommentFactory(article=article, author=actor, body=hostile)
        notification = Notification.objects.create(
            recipient=reader,
            kind=kind,
            actor=actor,
            comment=None if kind == Kind.NEW_CHAPTER else comment,
            article=article,
            reason=hostile,
            in_digest=True,
        )
        bodies.append(services._build_email(notification).body_html)
    services.send_digests()
    bodies.append(OutgoingEmail.objects.get(recipient=reader, kind="").body_html)

    for html in bodies:
        page.set_content(html)
        page.wait_for_timeout(50)
        assert page.evaluate("() => window.__xss") is None
    assert len(bodies) == len(Kind.values) + 1

"""The whole XSS corpus (tests/security/xss_corpus.py) in Chromium, through every channel: as
comments, as article and column titles, as display names (set on the model, as an import
could), on the article, column, home, profile and admin pages, and in every email kind.

Nothing may run: the `watch` fixture fails the test on any dialog (the payloads call alert),
Content-Security-Policy violation or console error; `window.__xss` stays unset; no executable
markup survives where user text shows.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from accounts.models import User
from forum import services
from forum.models import Article, Column
from notifications import services as notification_services
from notifications.enums import Kind
from notifications.models import Notification, OutgoingEmail
from tests.browser.test_xss_browser import DANGEROUS_MARKUP, WHERE_USER_TEXT_SHOWS
from tests.factories import ArticleFactory, ColumnFactory, UserFactory
from tests.security.xss_corpus import PAYLOADS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PER_ARTICLE = 20  # one page of threads
NAME_LENGTH = 30
CHUNKS = [PAYLOADS[i : i + PER_ARTICLE] for i in range(0, len(PAYLOADS), PER_ARTICLE)]


@pytest.fixture
def corpus(column_author):
    """One article per chunk of the corpus: its title a payload, its comments the chunk, each
    by a user whose display name is a payload; the column's title is a payload too."""
    column = ColumnFactory(author=column_author, title=PAYLOADS[0][:200], slug="corpus")
    articles, users = [], []
    for n, chunk in enumerate(CHUNKS):
        article = ArticleFactory(column=column, slug=f"chunk-{n}", position=n + 1)
        Article.objects.filter(pk=article.pk).update(title=chunk[-1][:300])
        for i, body in enumerate(chunk):
            author = UserFactory()
            name = chunk[i - 1][: NAME_LENGTH - 4] + f"#{n}{i:02d}"  # unique, payload first
            User.objects.filter(pk=author.pk).update(display_name=name)
            author.refresh_from_db()
            users.append(author)
            services.post_comment(article=article, author=author, body=body)
        articles.append(article)
    Column.objects.filter(pk=column.pk).update(title=PAYLOADS[1][:200])
    return articles, users


def _assert_clean(page) -> None:
    page.wait_for_timeout(100)  # let anything that would run, run
    assert page.evaluate("() => typeof window.__xss") == "undefined", f"XSS ran on {page.url}"
    dangerous = page.evaluate(DANGEROUS_MARKUP, WHERE_USER_TEXT_SHOWS)
    assert not dangerous, f"executable markup survived on {page.url}: {dangerous}"


def test_the_corpus_runs_nowhere_on_the_site(page, live_server, corpus, reader, log_in):
    articles, users = corpus
    log_in(page, reader)
    for article, chunk in zip(articles, CHUNKS, strict=True):
        page.goto(live_server.url + f"/columns/corpus/{article.slug}/")
        expect(page.locator("ol#threads > li.thread")).to_have_count(len(chunk))
        _assert_clean(page)
        for body in page.locator(".comment-body").all():
            body.hover()
        _assert_clean(page)
    for path in ["/", "/columns/corpus/", *(f"/u/{user.pk}/" for user in users[::PER_ARTICLE])]:
        page.goto(live_server.url + path)
        expect(page.locator("main")).to_be_visible()
        _assert_clean(page)


def test_the_corpus_runs_nowhere_in_a_preview(page, live_server, corpus, reader, log_in):
    articles, _users = corpus
    log_in(page, reader)
    page.goto(live_server.url + f"/columns/corpus/{articles[0].slug}/")
    for chunk in CHUNKS:
        form = page.locator("#comment-form")
        form.locator("textarea[name=body]").fill("\n\n".join(chunk))
        form.get_by_role("button", name="Preview").click()
        expect(page.locator("#comment-preview")).not_to_be_empty()
        _assert_clean(page)


def test_the_corpus_runs_nowhere_in_the_admin(page, live_server, corpus, admin_user, log_in):
    log_in(page, admin_user)
    for path in [
        "/admin/forum/comment/",
        "/admin/forum/article/",
        "/admin/forum/column/",
        "/admin/accounts/user/",
        "/admin/moderation/queue/",
    ]:
        page.goto(live_server.url + path)
        expect(page.locator("#content")).to_be_visible()
        page.wait_for_timeout(100)
        assert page.evaluate("() => typeof window.__xss") == "undefined", path


def test_the_corpus_runs_in_no_email(page, corpus, reader):
    """Every kind of email, and the digest, built from each chunk: the actor's name, the
    article's title, the comment and the moderator's reason are all payloads."""
    articles, users = corpus
    bodies = []
    for article, chunk, actor in zip(articles, CHUNKS, users[::PER_ARTICLE], strict=True):
        hostile = "\n\n".join(chunk)
        for kind in Kind.values:
            # A comment per kind: a reader is told about a comment once, and the chunk's
            # mentions have already told them about it.
            comment = services.post_comment(article=article, author=actor, body=hostile)
            Notification.objects.filter(recipient=reader, comment=comment).delete()
            notification = Notification.objects.create(
                recipient=reader,
                kind=kind,
                actor=actor,
                comment=None if kind == Kind.NEW_CHAPTER else comment,
                article=article,
                reason=chunk[0],
                in_digest=True,
            )
            bodies.append(notification_services._build_email(notification).body_html)
    notification_services.send_digests()
    bodies += OutgoingEmail.objects.filter(recipient=reader, kind="").values_list(
        "body_html", flat=True
    )

    assert len(bodies) == len(CHUNKS) * len(Kind.values) + 1
    for html in bodies:
        page.set_content(html)
        page.wait_for_timeout(30)
        assert page.evaluate("() => typeof window.__xss") == "undefined"

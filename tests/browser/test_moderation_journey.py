"""Issue "moderation desk": a reader reports a comment in place, a moderator hides it from the
queue in the admin with a reason, the comment leaves the page and its author is told why."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from forum.enums import CommentStatus
from forum.models import Comment
from moderation.enums import Action
from moderation.models import ModerationAction, Report
from notifications.models import Notification
from tests.factories import CommentFactory, moderators_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OFFENDING = "Buy cheap watches at spam dot example, best prices!"
REASON = "Advertising is not allowed here"


def sign_in(page, user, live_server) -> None:
    """Give the page's context a session of `user`, from a client of its own (logging a second
    person in through one shared client would end the first person's session)."""
    client = Client()
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_report_then_hide_from_the_queue(
    page, new_page, live_server, artifacts, article, reader, other_reader, moderator
):
    moderators_group()  # earlier transactional tests flushed the migration's group
    fine = CommentFactory(article=article, author=other_reader, body="Pods are the unit.")
    bad = CommentFactory(article=article, author=other_reader, body=OFFENDING)

    # The reader reports the comment: the form opens in place (htmx), a reason, "Thank you".
    sign_in(page, reader, live_server)
    page.goto(live_server.url + article.get_absolute_url())
    page.evaluate("() => { window.__noReload = 'still here'; }")
    page.locator(f"#c-{bad.pk}").get_by_role("link", name="Report").click()
    slot = page.locator(f"#reply-{bad.pk}")
    expect(slot.locator("form.report-form")).to_be_visible()
    slot.get_by_label("Spam").check()
    slot.get_by_role("button", name="Send report").click()
    expect(slot).to_contain_text("Thank you")
    assert page.evaluate("() => window.__noReload") == "still here", "the page was reloaded"
    report = Report.objects.get(comment=bad)
    assert (report.reporter, report.reason) == (reader, "spam")

    # A moderator sees it on the dashboard, opens the queue and hides it with a reason.
    desk = new_page()
    sign_in(desk, moderator, live_server)
    desk.goto(live_server.url + "/admin/")
    expect(desk.get_by_test_id("queue-size")).to_contain_text("1")
    expect(desk.get_by_test_id("chart-comments").locator("svg title").last).to_contain_text(
        "2 comments"
    )
    desk.get_by_test_id("queue-size").click()
    expect(desk).to_have_url(re.compile(r"/admin/moderation/queue/$"))
    item = desk.locator(f"#q-{bad.pk}")
    expect(desk.get_by_test_id("queue-item")).to_have_count(1)
    expect(item).to_contain_text(OFFENDING)
    expect(item).to_contain_text("Spam")
    expect(item).to_contain_text("by reader")
    expect(item).to_contain_text(article.title)
    item.get_by_label("Reason (optional, shown to the author)").fill(REASON)
    desk.screenshot(path=str(artifacts / "moderation-queue.png"), full_page=True)
    item.get_by_role("button", name="Hide").click()

    expect(desk.locator(".messagelist .success")).to_contain_text(f"Comment #{bad.pk} hidden")
    expect(desk.get_by_test_id("queue-empty")).to_be_visible()
    row = ModerationAction.objects.get(comment=bad, action=Action.HIDE)
    assert (row.moderator, row.reason, row.before, row.after) == (
        moderator,
        REASON,
        CommentStatus.VISIBLE,
        CommentStatus.HIDDEN,
    )

    # The reader reloads the article: the comment's text is gone, the other one stays.
    page.reload()
    expect(page.locator(".user-chip-name")).to_have_text(reader.display_name)  # still signed in
    expect(page.locator(f"#c-{fine.pk}")).to_contain_text("Pods are the unit.")
    expect(page.get_by_text(OFFENDING)).to_have_count(0)
    assert Comment.objects.get(pk=bad.pk).status == CommentStatus.HIDDEN

    # Its author is told, with the reason, in their notifications.
    notification = Notification.objects.get(recipient=other_reader, kind="moderated")
    assert notification.reason == REASON
    author = new_page()
    sign_in(author, other_reader, live_server)
    author.goto(live_server.url + "/notifications/")
    expect(author.locator("li.notification").first).to_contain_text(REASON)

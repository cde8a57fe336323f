"""Issue "notifications": someone answers you, the bell in the header says so, and one click
takes you to the answer on the article page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from forum import services
from notifications.models import Notification
from tests.factories import CommentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reply_rings_the_bell_and_one_click_leads_to_it(
    page, live_server, log_in, artifacts, article, reader, other_reader
):
    mine = CommentFactory(article=article, author=reader, body="Pods share a network namespace.")
    reply = services.post_comment(
        article=article, author=other_reader, parent=mine, body="And the IPC namespace too."
    )
    log_in(page, reader)

    page.goto(live_server.url + "/")
    bell = page.locator("header #bell")
    expect(bell.locator("[data-testid=bell-count]")).to_have_text("1")
    expect(bell).to_have_attribute("aria-label", re.compile(r"1 unread"))

    bell.click()
    expect(page).to_have_url(live_server.url + "/notifications/")
    item = page.locator("li.notification.is-unread")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Reply to your comment")
    expect(item).to_contain_text("other_reader")
    expect(item).to_contain_text("Why Pods?")
    expect(item).to_contain_text("And the IPC namespace too.")

    item.locator("a.notification-link").click()
    expect(page).to_have_url(
        re.compile(re.escape(article.get_absolute_url()) + rf"\?c={reply.pk}#c-{reply.pk}$")
    )
    target = page.locator(f"#c-{reply.pk}")
    expect(target).to_be_visible()
    expect(target).to_contain_text("And the IPC namespace too.")
    # The highlight is CSS :target; give the browser its moment to apply the fragment.
    page.wait_for_function(
        f"() => document.querySelector('#c-{reply.pk}')?.matches(':target')", timeout=5_000
    )
    expect(target).to_be_in_viewport()
    expect(page.locator("header #bell")).to_be_visible()
    expect(page.locator("header [data-testid=bell-count]")).to_have_count(0)
    page.screenshot(path=str(artifacts / "notifications.png"))

    assert Notification.objects.get(recipient=reader, comment=reply).read_at is not None
    # Back in the inbox the notification is read.
    page.goto(live_server.url + "/notifications/")
    expect(page.locator("li.notification")).to_have_count(1)
    expect(page.locator("li.notification.is-unread")).to_have_count(0)


def test_the_bell_fragment_polled_by_htmx_updates_the_count(
    page, live_server, log_in, article, reader, other_reader
):
    """The bell refreshes itself (hx-get every 60s); ask for the same fragment now."""
    mine = CommentFactory(article=article, author=reader)
    log_in(page, reader)
    page.goto(live_server.url + "/")
    expect(page.locator("header [data-testid=bell-count]")).to_have_count(0)

    services.post_comment(article=article, author=other_reader, parent=mine, body="Ping")
    page.evaluate(
        "() => htmx.ajax('GET', '/notifications/bell/', {target: '#bell', swap: 'outerHTML'})"
    )

    expect(page.locator("header [data-testid=bell-count]")).to_have_text("1")

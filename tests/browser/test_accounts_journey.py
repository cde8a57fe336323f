"""Issue "foundation": a newcomer signs up, verifies the email, logs in and switches language."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.conf import settings
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.factories import ArticleFactory, CommentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

EMAIL = "browser-reader@example.com"
NAME = "浏览器读者"
PASSWORD = "a-long-enough-passphrase"
CONFIRM_LINK = re.compile(r"https?://\S+?(/accounts/confirm-email/[^/\s]+/)")


def _has_zh_hans_catalog() -> bool:
    return any(
        (path / "zh_Hans" / "LC_MESSAGES" / "django.mo").exists() for path in settings.LOCALE_PATHS
    )


def test_sign_up_verify_log_in_and_switch_language(page, live_server, mailoutbox):
    page.goto(live_server.url + "/")
    page.get_by_role("link", name="Sign up").click()
    expect(page).to_have_url(re.compile(r"/accounts/signup/$"))
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=display_name]", NAME)
    page.fill("input[name=password1]", PASSWORD)
    page.fill("input[name=password2]", PASSWORD)
    page.locator("main button[type=submit]").click()

    # Mandatory verification: nobody is logged in yet, and one mail is on its way.
    expect(page).to_have_url(re.compile(r"/accounts/confirm-email/$"))
    expect(page.get_by_test_id("header-user")).to_have_count(0)
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == [EMAIL]
    match = CONFIRM_LINK.search(mailoutbox[0].body)
    assert match, mailoutbox[0].body

    page.goto(live_server.url + match.group(1))
    expect(page.locator("main")).to_contain_text(EMAIL)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/")
    assert EmailAddress.objects.get(email=EMAIL).verified
    # ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION: the same browser is logged in by the confirmation.
    expect(page.get_by_test_id("header-user")).to_contain_text(NAME)

    # Log out through the account menu, and back in through the login form.
    page.get_by_label("Account menu").click()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_test_id("header-user")).to_have_count(0)
    page.get_by_role("link", name="Log in").click()
    page.fill("input[name=login]", EMAIL.upper())  # emails are case-insensitive
    page.fill("input[name=password]", PASSWORD)
    page.locator("main button[type=submit]").click()
    expect(page).to_have_url(live_server.url + "/")
    expect(page.get_by_test_id("header-user")).to_contain_text(NAME)

    # The footer's language switch: Simplified Chinese and back, staying logged in.
    html = page.locator("html")
    switch = page.locator("footer nav.language-switch")
    nav_en = _nav_text(page)
    expect(html).to_have_attribute("lang", "en")
    expect(switch.locator("a[lang=en]")).to_have_attribute("aria-current", "true")

    switch.locator("a[lang=zh-hans]").click()
    expect(html).to_have_attribute("lang", "zh-hans")
    expect(switch.locator("a[lang=zh-hans]")).to_have_attribute("aria-current", "true")
    expect(switch.locator("a[lang=en]")).not_to_have_attribute("aria-current", "true")
    expect(switch.locator("a[lang=zh-hans]")).to_have_text("简体中文")
    expect(page.get_by_test_id("header-user")).to_contain_text(NAME)
    if _has_zh_hans_catalog():
        # Once locale/ has the Chinese catalog, the navigation is translated.
        assert _nav_text(page) != nav_en

    switch.locator("a[lang=en]").click()
    expect(html).to_have_attribute("lang", "en")
    expect(switch.locator("a[lang=en]")).to_have_attribute("aria-current", "true")
    assert _nav_text(page) == nav_en


def test_home_page_screenshots(page, new_page, live_server, column, artifacts):
    """Desktop and phone screenshots of the home page with a column and a discussion."""
    article = ArticleFactory(column=column, title="Pods, and why they exist")
    CommentFactory(article=article, body="First!")

    page.goto(live_server.url + "/")
    expect(page.locator("ul.cards li.card")).to_have_count(1)
    expect(page.locator("#recent-heading")).to_be_visible()
    page.screenshot(path=artifacts / "home.png", full_page=True)

    phone = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    phone.goto(live_server.url + "/")
    expect(phone.locator("ul.cards li.card")).to_have_count(1)
    _assert_no_horizontal_scroll(phone)
    phone.screenshot(path=artifacts / "home-phone.png", full_page=True)


def _nav_text(page) -> str:
    return " ".join(page.locator("header nav").text_content().split())


def _assert_no_horizontal_scroll(page) -> None:
    widths = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"the page scrolls sideways on a phone: {widths}"

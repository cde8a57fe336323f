"""One vocabulary: "Log in" / "Log out" / "Sign up" (登录 / 退出登录 / 注册) on every page,
allauth's included, and plurals that read right in both languages."""

from __future__ import annotations

import re

import pytest
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from accounts.ratelimit import RateLimited
from moderation.middleware import RateLimitMiddleware
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

# allauth's own words for the same actions, in either case: none may be left on a page.
OTHER_WORDS = re.compile(r"\b(sign[ -]?in|signed in|sign[ -]?out|signed out|signup)\b", re.I)


def visible_text(response) -> str:
    tree = HTMLParser(response.text)
    for node in tree.css("script, style"):
        node.decompose()
    return " ".join(tree.body.text(separator=" ").split())


@pytest.mark.parametrize(
    ("name", "heading", "button"),
    [("account_login", "Log in", "Log in"), ("account_signup", "Sign up", "Sign up")],
)
def test_the_entrance_pages_speak_like_the_header(client, name, heading, button):
    response = client.get(reverse(name))

    assert response.status_code == 200
    page = HTMLParser(response.text)
    assert page.css_first("main h1").text().strip() == heading
    assert button in [b.text().strip() for b in page.css("main button[type=submit]")]
    assert page.css_first("title").text().startswith(heading)
    assert not OTHER_WORDS.search(visible_text(response)), visible_text(response)


def test_the_log_out_page_says_log_out(client, reader):
    client.force_login(reader)

    response = client.get(reverse("account_logout"))

    page = HTMLParser(response.text)
    assert page.css_first("main h1").text().strip() == "Log out"
    assert "Are you sure you want to log out?" in response.text
    assert not OTHER_WORDS.search(visible_text(response))


@pytest.mark.parametrize("name", ["account_reset_password", "account_login", "account_signup"])
def test_no_page_of_the_entrance_says_sign_in_in_chinese_either(client, name):
    response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE="zh-CN")

    text = visible_text(response)
    assert not OTHER_WORDS.search(text)
    assert "登录" in text and "注册" in text


@pytest.mark.parametrize(
    ("name", "heading"), [("account_login", "登录"), ("account_signup", "注册")]
)
def test_the_entrance_pages_in_chinese(client, name, heading):
    response = client.get(reverse(name), HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert HTMLParser(response.text).css_first("main h1").text().strip() == heading


def test_logging_in_and_out_say_so_in_the_same_words(client, reader):
    response = client.post(
        reverse("account_login"),
        {"login": reader.email, "password": PASSWORD},
        follow=True,
    )
    assert f"Logged in as {reader.display_name}." in visible_text(response)

    response = client.post(reverse("account_logout"), follow=True)
    assert "You have logged out." in visible_text(response)


@pytest.mark.parametrize(
    ("seconds", "english", "chinese"),
    [
        (30, "Please wait 1 minute and try again.", "请等 1 分钟后再试。"),
        (60, "Please wait 1 minute and try again.", "请等 1 分钟后再试。"),
        (150, "Please wait 2 minutes and try again.", "请等 2 分钟后再试。"),
    ],
)
def test_the_rate_limit_message_counts_minutes_properly(seconds, english, chinese):
    middleware = RateLimitMiddleware(lambda request: None)
    request = RequestFactory().post("/")

    for language, expected in (("en", english), ("zh-hans", chinese)):
        with translation.override(language):
            response = middleware.process_exception(request, RateLimited(seconds))
        assert response.status_code == 429
        assert expected in response.content.decode()

"""Anonymous article pages come from the cache, yet each carries its own CSRF token and nonce."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from forum import services
from tests.factories import CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

NONCE = re.compile(r'<script [^>]*nonce="([^"]+)"')
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')


def test_second_anonymous_view_is_served_from_the_cache_with_fresh_nonce_and_token(client, article):
    CommentFactory(article=article, body="cached words")
    first = client.get(article.get_absolute_url())

    with CaptureQueriesContext(connection) as queries:
        second = client.get(article.get_absolute_url())

    assert len(queries) == 1  # the article (its thread version keys the cache)
    assert "cached words" in second.text
    nonce = NONCE.search(second.text).group(1)
    assert nonce != NONCE.search(first.text).group(1)
    assert f"'nonce-{nonce}'" in second["Content-Security-Policy"]
    assert "\x00" not in second.text
    assert CSRF.search(second.text).group(1) != CSRF.search(first.text).group(1)


def test_language_form_posts_with_the_token_of_a_cached_page(article):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.get(article.get_absolute_url())
    page = client.get(article.get_absolute_url())
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    response = client.post("/i18n/setlang/", {"language": "zh-hans", "csrfmiddlewaretoken": token})

    assert response.status_code == 302


def test_a_new_comment_or_like_shows_at_once_on_the_cached_page(client, article, reader):
    client.get(article.get_absolute_url())
    CommentFactory(article=article, body="arrived later")
    assert "arrived later" in client.get(article.get_absolute_url()).text

    services.toggle_like(user=reader, article=article)
    assert '<span class="like-count">1</span>' in client.get(article.get_absolute_url()).text


def test_signed_in_readers_never_get_the_anonymous_page(client, article, reader):
    client.get(article.get_absolute_url())
    client.force_login(reader)

    page = client.get(article.get_absolute_url())

    assert reader.display_name in page.text
    assert 'href="/accounts/login/' not in page.text.split("</header>")[0]


def test_each_url_and_language_has_its_own_page(client, article):
    UserFactory()
    newest = client.get(article.get_absolute_url() + "?sort=newest")
    chinese = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-CN")
    english = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")

    assert 'aria-current="page">Newest' in newest.text
    assert '<html lang="zh-hans">' in chinese.text
    assert '<html lang="en">' in english.text

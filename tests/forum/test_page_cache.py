"""Anonymous article pages come from the cache as they are: no CSRF token, no CSP nonce, the
same bytes for every anonymous reader, with an ETag that makes an unchanged page a 304. A
signed-in reader's page is built around the same cached parts with their own token."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from forum import services
from tests.factories import CommentFactory, UserFactory

pytestmark = pytest.mark.django_db

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def test_second_anonymous_view_is_served_from_the_cache_as_it_is(client, article):
    CommentFactory(article=article, body="cached words")
    first = client.get(article.get_absolute_url())

    with CaptureQueriesContext(connection) as queries:
        second = client.get(article.get_absolute_url())

    assert len(queries) == 1  # the article (its thread version keys the cache)
    assert "cached words" in second.text
    assert second.content == first.content
    assert "csrfmiddlewaretoken" not in second.text
    assert 'name="csrf-token"' not in second.text
    assert "nonce" not in second.text
    assert "\x00" not in second.text
    assert "csrftoken" not in second.cookies  # nothing of the reader is set or kept
    assert second["ETag"] == first["ETag"]
    assert second["Cache-Control"] == "public, no-cache"
    assert {"Cookie", "Accept-Language", "HX-Request"} <= {
        v.strip() for v in second["Vary"].split(",")
    }


def test_an_unchanged_anonymous_page_is_a_304_for_its_etag(client, article):
    CommentFactory(article=article, body="cached words")
    etag = client.get(article.get_absolute_url())["ETag"]

    with CaptureQueriesContext(connection) as queries:
        response = client.get(article.get_absolute_url(), HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag
    assert response["Cache-Control"] == "public, no-cache"
    assert len(queries) == 1
    other = client.get(article.get_absolute_url(), HTTP_IF_NONE_MATCH='"not-this-one"')
    assert other.status_code == 200
    assert other["ETag"] == etag


def test_whatever_changes_the_page_changes_its_etag(client, article, reader, other_reader):
    url = article.get_absolute_url()
    comment = CommentFactory(article=article, body="first words")
    seen = [client.get(url)["ETag"]]

    CommentFactory(article=article, body="more words")
    seen.append(client.get(url, HTTP_IF_NONE_MATCH=seen[-1]))
    services.toggle_like(user=reader, comment=comment)
    seen.append(client.get(url, HTTP_IF_NONE_MATCH=seen[-1]["ETag"]))
    services.toggle_like(user=other_reader, article=article)
    seen.append(client.get(url, HTTP_IF_NONE_MATCH=seen[-1]["ETag"]))
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN", HTTP_IF_NONE_MATCH=seen[-1]["ETag"])

    assert [r.status_code for r in seen[1:]] == [200, 200, 200]
    assert "more words" in seen[1].text
    assert '<span class="like-count">1</span>' in seen[2].text
    assert chinese.status_code == 200
    etags = [seen[0], *(r["ETag"] for r in seen[1:]), chinese["ETag"]]
    assert len(set(etags)) == 5


def test_a_page_rendered_again_gets_a_new_etag(client, article):
    # A page expires for reasons no version sees (a new chapter's "next" link): the ETag names
    # the rendering, so the new one is never taken for the old.
    from django.core.cache import cache

    url = article.get_absolute_url()
    first = client.get(url)["ETag"]
    cache.clear()

    again = client.get(url, HTTP_IF_NONE_MATCH=first)

    assert again.status_code == 200
    assert again["ETag"] != first


def test_a_signed_in_reader_gets_their_own_token_and_no_etag(client, article, reader):
    client.get(article.get_absolute_url())
    client.force_login(reader)

    first = client.get(article.get_absolute_url())
    second = client.get(article.get_absolute_url(), HTTP_IF_NONE_MATCH=first.get("ETag", "*"))

    assert second.status_code == 200
    assert "ETag" not in second
    assert "private" in second["Cache-Control"]
    token = CSRF_META.search(second.text).group(1)
    assert token != CSRF_META.search(first.text).group(1)  # masked afresh each time
    assert "\x00" not in second.text


def test_a_signed_in_readers_htmx_post_carries_the_token_of_a_cached_page(article, reader):
    comment = CommentFactory(article=article)
    client = Client(enforce_csrf_checks=True)
    client.force_login(reader)
    client.get(article.get_absolute_url())
    page = client.get(article.get_absolute_url())
    token = CSRF_META.search(page.text).group(1)
    like = reverse("forum:comment-like", args=[comment.pk])

    refused = client.post(like, HTTP_HX_REQUEST="true")
    response = client.post(like, HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token)

    assert refused.status_code == 403
    assert response.status_code == 200
    assert comment.likes.count() == 1


def test_the_footer_switches_language_by_a_link(client, article):
    page = client.get(article.get_absolute_url())
    link = reverse("accounts:language", args=["zh-hans"])
    assert f'href="{link}?next={article.get_absolute_url()}"' in page.text

    response = client.get(link, {"next": article.get_absolute_url()})

    assert response.status_code == 302
    assert response.url == article.get_absolute_url()
    assert "no-cache" in response["Cache-Control"]
    chinese = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="zh-hans">' in chinese.text
    assert 'aria-current="true">简体中文' in chinese.text


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x", ""])
def test_the_language_link_never_leaves_the_site(client, next_url):
    response = client.get(reverse("accounts:language", args=["zh-hans"]), {"next": next_url})

    assert response.status_code == 302
    assert response.url == "/"


def test_a_language_we_do_not_have_is_a_404_and_sets_nothing(client):
    response = client.get(reverse("accounts:language", args=["xx"]), {"next": "/"})

    assert response.status_code == 404
    assert "django_language" not in response.cookies


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

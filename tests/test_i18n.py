import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_language_follows_the_browser(client, article):
    chinese = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    english = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert '<html lang="zh-hans">' in chinese.text
    assert "留言排序" in chinese.text and "最热" in chinese.text
    assert '<html lang="en">' in english.text
    assert "Sort comments" in english.text


def test_language_switch_in_the_footer_sticks(client, article):
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": article.get_absolute_url()}
    )

    assert response.status_code == 302
    assert response.url == article.get_absolute_url()
    page = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="zh-hans">' in page.text
    assert 'aria-current="true">简体中文' in page.text


def test_cached_threads_are_kept_per_language(client, article):
    from tests.factories import CommentFactory

    CommentFactory(article=article, author=article.author)
    client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="en")

    chinese = client.get(article.get_absolute_url(), HTTP_ACCEPT_LANGUAGE="zh-CN")

    assert "作者" in chinese.text
    assert ">Author<" not in chinese.text

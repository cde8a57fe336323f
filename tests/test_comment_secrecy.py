"""No page, fragment or error answer shows a comment's text to someone who may not see it.

Every URL that takes a comment id, each method, with and without htmx, for a hidden, a held
and a deleted comment, as each persona who may not read it. Ids are sequential: anyone can
try them all.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from forum.enums import CommentStatus
from forum.models import Comment
from tests.factories import CommentFactory

pytestmark = pytest.mark.django_db

SECRET = "Secret words of a comment out of sight"
HX = {"HTTP_HX_REQUEST": "true"}
COMMENT_URLS = [
    "forum:comment-permalink",
    "forum:comment-reply",
    "forum:comment-edit",
    "forum:comment-delete",
    "forum:comment-like",
    "forum:comment-feature",
    "forum:comment-replies",
    "moderation:report",
    "moderation:hide",
    "moderation:restore",
]


@pytest.fixture(params=[CommentStatus.HIDDEN, CommentStatus.HELD, CommentStatus.REMOVED])
def secret(request, article, reader):
    comment = CommentFactory(article=article, author=reader, body=SECRET)
    CommentFactory(parent=comment)  # with a reply, so a placeholder stays in the thread
    Comment.objects.filter(pk=comment.pk).update(status=request.param)
    comment.refresh_from_db()
    return comment


def _answers(client, url):
    for method in ("get", "post"):
        for headers in ({}, HX):
            response = getattr(client, method)(url, **headers)
            yield method, headers, response
            if response.status_code in (301, 302):
                yield method, headers, client.get(response.url)


@pytest.mark.parametrize("persona", ["anonymous", "other_reader", "unverified_user"])
@pytest.mark.parametrize("name", COMMENT_URLS)
def test_no_endpoint_shows_the_text_of_a_comment_out_of_sight(client_for, secret, persona, name):
    client = client_for(persona)
    url = reverse(name, args=[secret.pk])

    for method, headers, response in _answers(client, url):
        assert response.status_code < 500, (method, headers, response.status_code)
        assert SECRET not in response.content.decode(), (method, bool(headers), response)

    assert Comment.objects.get(pk=secret.pk).status == secret.status  # nothing changed


def test_the_article_page_does_not_show_it_either(client_for, article, secret):
    for persona in ("anonymous", "other_reader"):
        response = client_for(persona).get(article.get_absolute_url())
        assert SECRET not in response.text

"""An imported chapter in the browser: the old discussion is there, external avatars blocked."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from forum.importing import import_sources
from forum.legacy import iter_sources
from forum.models import Article, Comment
from tests.helpers import LEGACY

COLUMN = "深入剖析Kubernetes"

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not LEGACY.is_dir(), reason=f"legacy sample pages not found at {LEGACY}"),
]


def test_reader_opens_an_imported_chapter_and_sees_the_old_comments(page, live_server, artifacts):
    for folder in ("export", "page-html"):
        files = sorted((LEGACY / folder / COLUMN).rglob("13 *.md"))
        import_sources(iter_sources(files), column=COLUMN)
    article = Article.objects.get()
    first = Comment.objects.filter(article=article, parent=None).order_by("legacy_position")[0]

    page.goto(f"{live_server.url}{article.get_absolute_url()}?sort=original")

    expect(page.locator("h1")).to_contain_text("为什么我们需要Pod")
    comment = page.locator(f"#c-{first.pk}")
    expect(comment.locator(".name")).to_have_text(first.author.display_name)
    expect(comment.locator(".like-count")).to_have_text(str(first.total_like_count))
    expect(comment.locator("time")).to_contain_text(first.created_at.strftime("%Y-"))
    author_replies = page.locator(".badge-author")
    expect(author_replies.first).to_be_visible()
    assert author_replies.count() >= 5
    # Imported avatars point at the old site; the page asks for them lazily and the test
    # aborts those requests, so the page must still be whole.
    expect(page.locator("img.avatar[loading=lazy]").first).to_be_attached()
    page.screenshot(path=artifacts / "imported-article.png", full_page=False)

"""The XSS corpus through the legacy importer: as column names (the folder), chapter titles (the
file names), the article text of both formats, readers' names and comment texts, avatar URLs and
the author's name from the opening line. Once imported, every page and admin page that shows
them carries nothing a browser would run (the check of tests/forum/test_xss.py)."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from django.test import Client
from django.utils.html import escape

from accounts.models import User
from accounts.names import is_valid
from forum.importing import import_sources
from forum.legacy import iter_sources
from forum.models import Article, Column, Comment
from tests.forum.test_xss import assert_ok_and_inert, logged_in
from tests.security.xss_corpus import PAYLOADS

pytestmark = pytest.mark.django_db

PER_CHAPTER = 20
CHUNKS = [PAYLOADS[i : i + PER_CHAPTER] for i in range(0, len(PAYLOADS), PER_CHAPTER)]
HOSTILE_AVATARS = ['javascript:alert(1)" onerror="alert(2)', "data:text/html,<script>x</script>"]


def _file_safe(payload: str) -> str:
    """The payload as a file name can carry it: no separators or NULs, under 200 bytes."""
    name = payload.replace("/", "∕").replace("\\", "∖").replace("\0", "").replace("\n", " ")
    return name.encode()[:200].decode(errors="ignore").strip() or "x"


def _comment_text(payload: str) -> str:
    # The export's item pattern ends a text at "</div>" followed by a date; no payload has one.
    return payload.replace('<li><img src="', '<li><img  src="')


def _comment_name(payload: str, n: int, i: int) -> str:
    return payload.replace("</span>", "")[:40] + f"{n}{i}"


def _export_chapter(n: int, chunk: list[str]) -> str:
    opening = f"你好，我是{chunk[0]}。\n\n" + "\n\n".join(chunk) + "\n"
    items = "".join(
        f'<li><img src="{html.escape(HOSTILE_AVATARS[i % 2])}" width="30px">'
        f"<span>{_comment_name(payload, n, i)}</span> 👍（{i}） 💬（0）"
        f"<div>{_comment_text(payload)}</div>2018-08-28</li><br/>"
        for i, payload in enumerate(chunk)
    )
    return f"{opening}<div><strong>精选留言（{len(chunk)}）</strong></div><ul>\n{items}</ul>\n"


def _page_chapter(chunk: list[str]) -> str:
    # The page format's article is the old site's HTML, kept only through the sanitizer.
    half = len(chunk) // 2
    return "\n".join(chunk[:half]) + "\n<!-- [[[read_end]]] -->\n" + "\n".join(chunk[half:])


@pytest.fixture
def imported(tmp_path: Path):
    export = tmp_path / _file_safe(PAYLOADS[1]) / "docs"
    pages = tmp_path / _file_safe(PAYLOADS[2])
    export.mkdir(parents=True)
    pages.mkdir()
    for n, chunk in enumerate(CHUNKS):
        title = _file_safe(chunk[-1])
        (export / f"{n + 1:02d} - {title}.md").write_text(_export_chapter(n, chunk))
        (pages / f"{n + 1:02d} _ {title} ({n}).md").write_text(_page_chapter(chunk))
    report = import_sources(iter_sources([export.parent, pages]))
    assert report.skipped == []
    return report


def test_the_corpus_imports_whole(imported):
    assert Column.objects.count() == 2
    assert Article.objects.count() == 2 * len(CHUNKS)
    assert Comment.objects.count() == len(PAYLOADS)
    for name in User.objects.values_list("display_name", flat=True):
        assert is_valid(name), name


def test_imported_corpus_is_inert_on_every_page(imported, reader):
    client = logged_in(reader)
    paths = ["/"]
    for column in Column.objects.all():
        paths.append(column.get_absolute_url())
    for article in Article.objects.select_related("column"):
        paths.append(article.get_absolute_url())
        paths.append(article.get_absolute_url() + "?sort=newest")
    for user in User.objects.filter(is_legacy=True)[:: PER_CHAPTER // 2]:
        paths.append(user.get_absolute_url())
    for path in paths:
        assert_ok_and_inert(Client().get(path), f"{path} as anonymous")
        assert_ok_and_inert(client.get(path), f"{path} as a reader")
    assert len(paths) > 2 * 2 * len(CHUNKS)
    # The pages did show the hostile text, as text.
    for article in Article.objects.select_related("column"):
        page = Client().get(article.get_absolute_url()).content.decode()
        assert escape(article.title) in page
        assert escape(article.column.title) in page
    assert Article.objects.filter(title__contains="<").count() > len(CHUNKS)


def test_imported_corpus_is_inert_in_the_admin(imported, admin_user):
    client = logged_in(admin_user)
    paths = [
        "/admin/forum/column/",
        "/admin/forum/article/",
        "/admin/forum/comment/",
        "/admin/accounts/user/?is_legacy__exact=1",
    ]
    for model, step in [(Column, 1), (Article, 6), (Comment, 20)]:
        pks = model.objects.order_by("pk").values_list("pk", flat=True)[::step]
        paths += [f"/admin/forum/{model._meta.model_name}/{pk}/change/" for pk in pks]
    for path in paths:
        assert_ok_and_inert(client.get(path), path, admin=True)

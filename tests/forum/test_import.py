"""Importing the old site's pages: exact counts, idempotence, the two formats merging."""

from __future__ import annotations

import logging
import re
import shutil
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count

from accounts.models import User
from accounts.names import is_valid, name_skeleton
from forum.enums import CommentSort
from forum.importing import import_sources
from forum.legacy import iter_sources
from forum.models import Article, Column, Comment
from tests.helpers import LEGACY

EXPORT = LEGACY / "export" / "深入剖析Kubernetes"
PAGES = LEGACY / "page-html" / "深入剖析Kubernetes"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not LEGACY.is_dir(), reason=f"legacy sample pages not found at {LEGACY}"),
]


def run(*paths, **options):
    return import_sources(iter_sources([Path(p) for p in paths]), **options)


def chapter_with_commenters_renamed(folder: Path, renamed: dict[str, str]) -> None:
    """The first chapter of the export fixture, written into `folder` with the commenters
    named in `renamed` (old name → new) renamed, one comment each."""
    source = sorted((EXPORT / "docs").glob("01 - *.md"))[0]
    text = source.read_text()
    for old, new in renamed.items():
        assert f"<span>{old}</span>" in text
        text = text.replace(f"<span>{old}</span>", f"<span>{new}</span>", 1)
    (folder / source.name).write_text(text)


def forget_imports() -> None:
    """Delete everything an import wrote, to import again from nothing."""
    Comment.objects.all().delete()
    Article.objects.all().delete()
    Column.objects.all().delete()
    User.objects.filter(is_legacy=True).delete()


def snapshot() -> dict:
    """Everything an import decides, in a form that doesn't depend on row ids."""
    comments = {
        c.legacy_key: (
            c.parent.legacy_key if c.parent else None,
            c.created_at,
            c.legacy_like_count,
            c.legacy_reply_count,
            c.body_md,
            c.legacy_role,
            c.status,
        )
        for c in Comment.objects.select_related("parent")
    }
    articles = {
        a.legacy_key: (a.title, a.position, a.body_html, a.comment_count)
        for a in Article.objects.all()
    }
    return {"comments": comments, "articles": articles, "columns": Column.objects.count()}


def test_whole_export_column_imports_with_exact_counts():
    report = run(EXPORT)

    assert report.skipped == []
    assert Column.objects.count() == 1
    assert Article.objects.count() == 57
    assert Comment.objects.count() == 1606
    # 922 distinct (name, avatar) commenters, plus the column's author 张磊 (from "你好，我是张磊").
    assert User.objects.filter(is_legacy=True).count() == 923
    column = Column.objects.get()
    assert column.title == "深入剖析Kubernetes"
    assert column.author.display_name == "张磊"
    assert (report.chapters.created, report.comments.created, report.users.created) == (
        57,
        1606,
        923,
    )


def test_chapters_follow_the_mkdocs_nav_order():
    run(EXPORT)

    titles = list(Article.objects.order_by("position").values_list("title", flat=True))
    assert titles[0].startswith("开篇词")
    assert titles[1].startswith("01 ")
    assert titles[-1].startswith("结课测试") or titles[-1].startswith("结束语")


def test_importing_the_same_files_again_changes_nothing():
    run(EXPORT)
    before = snapshot()

    report = run(EXPORT)

    assert snapshot() == before
    assert (report.chapters.created, report.chapters.updated) == (0, 0)
    assert (report.comments.created, report.comments.updated) == (0, 0)
    assert report.comments.unchanged == 1606
    assert report.users.created == 0


@pytest.mark.parametrize("order", ["export-first", "pages-first"])
def test_both_formats_merge_into_one_article_each_with_every_comment_once(order):
    first, second = (EXPORT, PAGES) if order == "export-first" else (PAGES, EXPORT)
    run(first)
    run(second)

    assert Article.objects.count() == 57
    article = Article.objects.get(title__startswith="13 ")
    roots = Comment.objects.filter(article=article, parent=None)
    # Page HTML gives the full article (the export only a preview) …
    assert "<!-- [[[read_end]]] -->" not in article.body_html
    assert len(article.body_html) > 5000
    # … exact times and the author's replies; the export gives the likes.
    first_comment = roots.get(author__display_name="段帅民")
    assert first_comment.created_at.second != 0 or first_comment.created_at.minute != 0
    assert first_comment.legacy_like_count > 0
    reply = Comment.objects.get(parent=first_comment)
    assert reply.author == article.column.author
    assert reply.body_md.startswith("这是我见过最形象的评论")
    duplicated = (
        Comment.objects.values("legacy_key").annotate(n=Count("id")).filter(n__gt=1).exists()
    )
    assert not duplicated


def test_both_orders_give_the_same_rows():
    run(EXPORT)
    run(PAGES)
    export_first = snapshot()
    forget_imports()

    run(PAGES)
    run(EXPORT)

    assert snapshot() == export_first


def test_both_formats_in_one_upload_give_the_rows_of_two_imports(caplog):
    # One upload holding the export and the pages of a column: each chapter twice in a
    # batch. The second merges with the first as stored, in a transaction of its own, rather
    # than failing the batch (a duplicate key) and being redone chapter by chapter.
    run(EXPORT)
    run(PAGES)
    separately = snapshot()
    forget_imports()

    with caplog.at_level(logging.INFO, logger="forum.importing"):
        report = run(EXPORT, PAGES)

    assert report.skipped == []
    assert [r.message for r in caplog.records if "refused" in r.message] == []
    assert snapshot() == separately
    assert (report.chapters.created, report.chapters.updated) == (57, 57)


def test_a_row_the_database_refuses_while_copying_fails_only_its_chapter(tmp_path):
    # New comments go in by COPY on PostgreSQL: a row it refuses (here comment keys longer
    # than their column: a chapter title of 170 characters makes a 184-character article key,
    # which fits, and 209-character comment keys, which don't) is a DatabaseError like any
    # query's, so the batch is redone chapter by chapter and only that chapter is skipped.
    if connection.vendor != "postgresql":
        pytest.skip("SQLite doesn't enforce a column's length")
    files = sorted((EXPORT / "docs").glob("0[1-4] - *.md"))
    for file in files:
        shutil.copy(file, tmp_path / file.name)
    (tmp_path / files[2].name).rename(tmp_path / f"03 - {'x' * 170}.md")

    report = run(tmp_path, column="K8s")

    assert report.chapters.created == 3
    assert [s["file"].rsplit("/", 1)[-1] for s in report.skipped] == [f"03 - {'x' * 170}.md"]
    assert "could not be saved" in report.skipped[0]["reason"]
    assert not Article.objects.filter(title__startswith="03 - xxx").exists()
    assert Article.objects.count() == 3
    assert Comment.objects.filter(article__title__startswith="03 - xxx").count() == 0


def test_a_broken_file_is_reported_and_skipped_and_the_rest_go_in(tmp_path):
    files = sorted((EXPORT / "docs").glob("0[1-3] - *.md"))
    for file in files:
        shutil.copy(file, tmp_path / file.name)
    broken = tmp_path / files[1].name
    data = broken.read_bytes()
    broken.write_bytes(data.replace("精选留言（".encode(), "精选留言（999".encode(), 1))

    report = run(tmp_path, column="K8s")

    assert Article.objects.count() == 2
    assert len(report.skipped) == 1
    assert report.skipped[0]["file"].endswith(files[1].name)
    assert report.skipped[0]["reason"]
    assert not Article.objects.filter(title=files[1].stem).exists()


def test_non_utf8_input_is_a_clear_error_and_nothing_is_written(tmp_path):
    bad = tmp_path / "01 - 坏文件.md"
    bad.write_bytes("你好".encode("gb18030") + b"\xff\xfe\x00binary")

    report = run(bad, column="K8s")

    assert Article.objects.count() == 0
    assert "UTF-8" in report.skipped[0]["reason"] or "binary" in report.skipped[0]["reason"]


def test_a_newer_export_of_a_chapter_updates_counts_in_place(tmp_path):
    source = next((EXPORT / "docs").glob("13 - *.md"))
    copy = tmp_path / source.name
    shutil.copy(source, copy)
    run(copy, column="深入剖析Kubernetes")
    comment = Comment.objects.order_by("legacy_position").first()
    likes = comment.legacy_like_count

    copy.write_text(
        copy.read_text().replace(f"👍（{likes}）", f"👍（{likes + 100}）", 1), encoding="utf-8"
    )
    report = run(copy, column="深入剖析Kubernetes")

    comment.refresh_from_db()
    assert comment.legacy_like_count == likes + 100
    assert report.comments.updated == 1
    assert Comment.objects.filter(article=comment.article).count() == report.comments.unchanged + 1


def test_dry_run_writes_nothing_but_reports_what_would_happen():
    report = run(EXPORT, dry_run=True)

    assert report.chapters.created == 57
    assert Article.objects.count() == 0
    assert User.objects.count() == 0


def test_management_command_prints_progress_and_a_summary_table():
    out, err = StringIO(), StringIO()

    call_command("import_legacy", str(EXPORT), stdout=out, stderr=err)

    assert "57/57" in err.getvalue()
    text = out.getvalue()
    assert "chapters" in text and "57" in text
    assert "files: 57, skipped: 0" in text


def test_management_command_with_worker_processes_imports_the_same(monkeypatch):
    # Both formats (114 files) in batches of 100: enough for the workers to start.
    from forum import importpool

    pools = []
    start = importpool._pool
    monkeypatch.setattr(importpool, "_pool", lambda jobs: pools.append(start(jobs)) or pools[-1])
    out, err = StringIO(), StringIO()

    call_command("import_legacy", str(EXPORT), str(PAGES), "--jobs", "2", stdout=out, stderr=err)

    assert len(pools) == 1 and pools[0]._max_workers == 2
    assert "114/114" in err.getvalue()
    # Chapters and comments gone through: each chapter twice, the comments merged, the replies.
    assert "3,195 chapters and comments" in err.getvalue()
    assert "files: 114, skipped: 0" in out.getvalue()
    with_workers = snapshot()
    forget_imports()
    run(EXPORT, PAGES)  # serially
    assert snapshot() == with_workers


@pytest.mark.parametrize("jobs", ["0", "-1", "two"])
def test_management_command_refuses_a_number_of_jobs_below_one(jobs):
    with pytest.raises(CommandError, match="jobs"):
        call_command("import_legacy", str(EXPORT), "--jobs", jobs, stdout=StringIO())
    assert not Article.objects.exists()


def test_editor_replies_are_by_an_editor_account_and_marked(client):
    edge = LEGACY / "page-html-edge-cases"
    run(*sorted(edge.glob("郭东白的架构课__*.md")))

    reply = Comment.objects.filter(legacy_role="editor").select_related("author").first()
    assert reply is not None
    assert reply.author.display_name.startswith("编辑")
    html = client.get(reply.article.get_absolute_url()).text
    assert "badge badge-editor" in html


def test_imported_article_page_shows_the_old_discussion(client):
    run(EXPORT)
    run(PAGES)
    article = Article.objects.get(title__startswith="13 ")

    html = client.get(article.get_absolute_url() + f"?sort={CommentSort.ORIGINAL}").text

    assert "段帅民" in html
    assert 'loading="lazy"' in html and 'referrerpolicy="no-referrer"' in html
    assert "badge badge-author" in html
    assert "Original order" in html
    first_root = Comment.objects.filter(article=article, parent=None).order_by("legacy_position")[0]
    threads = re.findall(r'<li class="thread" id="t-(\d+)"', html)
    assert threads[0] == str(first_root.pk)
    assert f'<span class="like-count">{first_root.total_like_count}</span>' in html


def test_empty_names_become_unique_placeholders():
    edge = LEGACY / "export-edge-cases"
    run(edge)

    placeholders = User.objects.filter(is_legacy=True, display_name__startswith="匿名用户")
    names = list(placeholders.values_list("display_name", flat=True))
    assert len(names) == len(set(names))
    assert all(name.strip() for name in User.objects.values_list("display_name", flat=True))


def test_imported_counters_are_right_by_recount():
    run(EXPORT)
    run(PAGES)

    out = StringIO()
    call_command("recount", "--check", stdout=out)
    assert "All counters are right." in out.getvalue()


def test_a_chapter_the_database_refuses_is_skipped_and_its_batch_neighbours_go_in(
    tmp_path, monkeypatch
):
    from django.db import DataError

    from forum import importing

    files = sorted((EXPORT / "docs").glob("0[1-4] - *.md"))
    for file in files:
        shutil.copy(file, tmp_path / file.name)
    refused = files[2].stem
    original = importing.BatchImport._article

    def refuse_one(self, chapter, *args, **kwargs):
        if chapter.title == refused:
            raise DataError("value too long for this column")
        return original(self, chapter, *args, **kwargs)

    monkeypatch.setattr(importing.BatchImport, "_article", refuse_one)

    report = run(tmp_path, column="K8s")

    assert Article.objects.count() == 3
    assert not Article.objects.filter(title=refused).exists()
    assert [s["file"].rsplit("/", 1)[-1] for s in report.skipped] == [files[2].name]
    assert "value too long" in report.skipped[0]["reason"]
    assert report.chapters.created == 3


def test_names_the_old_site_allowed_are_cleaned_to_valid_distinct_names(tmp_path):
    # The old site took any name; ours refuses spaces, emoji, one-letter names, compatibility
    # forms and lookalikes. Imported readers keep the closest valid name (accounts/names.py).
    renamed = {
        "Focused": "Simon WZ",
        "timmy": "🎏往事随风🎏",
        "adoal": "Knight²º¹⁸",
        "leon": "一",
        "chen": "fraηz",
        "Wings": "epox",
        "escray": "\u0435\u0440\u043e\u0445",  # Cyrillic, looks like "epox"
    }
    chapter_with_commenters_renamed(tmp_path, renamed)

    report = run(tmp_path, column="K8s")

    assert not report.skipped
    names = set(User.objects.filter(is_legacy=True).values_list("display_name", flat=True))
    assert {"Simon_WZ", "往事随风", "Knight2o18", "一-1", "fraz", "epox"} <= names
    assert not {"Simon WZ", "🎏往事随风🎏", "Knight²º¹⁸", "一", "fraηz"} & names
    cyrillic = Comment.objects.get(body_md__contains="在离线的局域网环境下").author.display_name
    assert cyrillic == "\u0435\u0440\u043e\u0445-2"
    for name in names:
        assert is_valid(name), name
    skeletons = [name_skeleton(name) for name in names]
    assert len(skeletons) == len(set(skeletons))


def test_names_that_differ_only_in_case_become_distinct_users(tmp_path):
    # Real data has "IVAN" and "ivan" (different people, different avatars). Their skeletons
    # differ (an uppercase "I" reads as an "l"), but the database's unique index is on
    # lower(display_name): the second must get a suffix, not make the chapter's batch fail.
    chapter_with_commenters_renamed(tmp_path, {"Focused": "IVAN", "timmy": "ivan", "adoal": "Ivan"})

    report = run(tmp_path, column="K8s")

    assert not report.skipped
    names = set(User.objects.filter(is_legacy=True).values_list("display_name", flat=True))
    ivans = {name for name in names if name.lower().startswith("ivan")}
    assert len(ivans) == 3
    assert len({name.lower() for name in ivans}) == 3
    # And against names already in the database, in a later import.
    User.objects.filter(display_name__in=ivans).update(legacy_key=None)
    Comment.objects.all().delete()
    Article.objects.all().delete()
    again = run(tmp_path, column="K8s")
    assert not again.skipped
    assert User.objects.filter(display_name__istartswith="ivan").count() == 6


def test_an_author_named_later_in_the_same_batch_takes_the_whole_column_in_one_go(tmp_path, caplog):
    # The first chapter doesn't say who wrote it (a placeholder author); a later one in the same
    # batch does ("你好，我是…"). Every chapter becomes theirs, the placeholder goes, and the
    # batch goes in whole: it once failed at its commit (its unsaved chapters pointed at the
    # deleted placeholder) and was redone chapter by chapter, in 10 of the real archive's
    # batches.
    (tmp_path / "Col__01 开篇.md").write_text("今天我们从头讲起。\n")
    (tmp_path / "Col__02 第二讲.md").write_text("你好，我是张三，今天讲调度。\n")
    (tmp_path / "Col__03 第三讲.md").write_text("继续讲调度。\n")
    caplog.set_level("INFO", logger="forum.importing")

    report = run(tmp_path)

    assert not report.skipped
    assert report.chapters.created == 3
    assert not [r for r in caplog.records if "refused" in r.getMessage()]
    authors = set(Article.objects.values_list("author__display_name", flat=True))
    assert authors == {"张三"}
    assert not User.objects.filter(legacy_key__startswith="author:?").exists()

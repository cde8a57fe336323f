"""The rows an import writes, pinned: a faster importer must write exactly these.

Real pages of the old site go in — the export and the page HTML of one column in both orders
(the formats merge; the pages bring the author's and editors' replies), the edge-case pages,
and the first columns of the real archive — and everything the import decided is compared
with `snapshots/import_rows.json`, recorded from the importer before its write path was
rewritten (issue 13). Row ids differ between runs and backends, so the dump names rows by
their legacy keys and keeps only the *order* of ids where the site shows rows by id (roots by
time, siblings in a thread). Bodies are compared by digest.

After a deliberate change of what the import writes, record the snapshot again with
`COLLOQUY_RECORD_SNAPSHOT=1` and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import os
import tarfile
from datetime import UTC
from pathlib import Path

import pytest

from accounts.models import User
from forum.importing import import_sources
from forum.legacy import iter_sources
from forum.models import PATH_SEGMENT_WIDTH, Article, Column, Comment
from tests.helpers import LEGACY

SNAPSHOT = Path(__file__).parent / "snapshots" / "import_rows.json"
ARCHIVE = LEGACY / "archive" / "geektime-docs-186-columns.tar.xz"
ARCHIVE_COLUMNS = 3  # the first three in the tarball: 37 + 45 + … chapters

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not ARCHIVE.is_file(), reason=f"legacy archive not found at {ARCHIVE}"),
]


def _digest(value) -> str:
    return hashlib.sha1(str(value).encode(), usedforsecurity=False).hexdigest()[:16]


def _moment(value) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def first_archive_columns(folder: Path, count: int) -> list[Path]:
    """Unpack the tarball's first `count` column folders (<category>/<column>) into folder."""
    columns: list[str] = []
    with tarfile.open(ARCHIVE, "r:xz") as archive:
        for member in archive:
            parts = member.name.split("/")
            if len(parts) < 3:
                continue
            column = "/".join(parts[:2])
            if column not in columns:
                if len(columns) == count:
                    break
                columns.append(column)
            if member.isfile():
                archive.extract(member, folder, filter="data")
    return [folder / column for column in columns]


def dump() -> dict:
    """Every row an import wrote, keyed by legacy key, each as a short digest."""
    users = {u.pk: u.legacy_key for u in User.objects.only("legacy_key")}
    people = {
        u.legacy_key: _digest(
            (u.display_name, u.display_name_skeleton, u.avatar_url, u.is_legacy, u.is_active)
            + (u.has_usable_password(), u.email, u.bio, u.language)
        )
        for u in User.objects.filter(is_legacy=True)
    }
    columns = {c.pk: c.legacy_key for c in Column.objects.all()}
    column_rows = {
        c.legacy_key: _digest((c.title, c.slug, c.description, users[c.author_id], c.cover.name))
        for c in Column.objects.all()
    }
    articles = {a.pk: a.legacy_key for a in Article.objects.only("legacy_key")}
    article_rows = {
        a.legacy_key: _digest(
            (columns[a.column_id], users[a.author_id], a.title, a.slug, a.position)
            + (_digest(a.body_md), _digest(a.body_html), a.is_published, a.like_count)
            + (a.legacy_like_count, a.comment_count, _moment(a.last_commented_at), a.edited_at)
        )
        for a in Article.objects.all()
    }
    keys = dict(Comment.objects.values_list("pk", "legacy_key"))
    threads: dict[str, list] = {}
    for c in Comment.objects.order_by("article_id", "id"):
        w = PATH_SEGMENT_WIDTH
        path = [keys[int(c.path[i : i + w])] for i in range(0, len(c.path), w)]
        threads.setdefault(articles[c.article_id], []).append(
            (c.legacy_key, users[c.author_id], keys.get(c.parent_id), keys[c.root_id], c.depth)
            + (path, _digest(c.body_md), _digest(c.body_html), _moment(c.created_at))
            + (c.edited_at, c.status, c.is_featured, c.like_count, c.reply_count)
            + (c.legacy_like_count, c.legacy_reply_count, c.legacy_position, c.legacy_role)
        )
    # Rows in id order per article: "newest" and "oldest" sort roots by id, threads by path.
    return {
        "counts": {
            "users": len(people),
            "columns": len(column_rows),
            "articles": len(article_rows),
            "comments": len(keys),
        },
        "users": people,
        "columns": column_rows,
        "articles": article_rows,
        "comments": {article: _digest(rows) for article, rows in sorted(threads.items())},
    }


def check(name: str, snapshot: dict) -> None:
    recorded = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.exists() else {}
    if os.environ.get("COLLOQUY_RECORD_SNAPSHOT"):
        recorded[name] = snapshot
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(json.dumps(recorded, ensure_ascii=False, indent=0, sort_keys=True))
        return
    expected = recorded[name]
    assert snapshot["counts"] == expected["counts"]
    for section in ("users", "columns", "articles", "comments"):
        differ = sorted(
            key
            for key in expected[section].keys() | snapshot[section].keys()
            if expected[section].get(key) != snapshot[section].get(key)
        )
        assert differ == [], f"{section} differ from the snapshot: {differ[:10]}"


def run(*paths: Path, **options) -> None:
    report = import_sources(iter_sources(list(paths)), **options)
    assert [s["reason"] for s in report.skipped if "could not be saved" in s["reason"]] == []


# Serially as by default, and with two worker processes parsing and rendering ahead (small
# batches, so that every run has enough of them for the workers to start).
SERIAL, WORKERS = {}, {"jobs": 2, "batch_size": 8}


@pytest.mark.parametrize("options", [SERIAL, WORKERS], ids=["serial", "workers"])
def test_export_then_pages_then_edge_cases_and_archive_columns(tmp_path, options, caplog):
    run(LEGACY / "export" / "深入剖析Kubernetes", **options)
    run(LEGACY / "page-html" / "深入剖析Kubernetes", **options)
    run(LEGACY / "export-edge-cases", LEGACY / "page-html-edge-cases", **options)
    run(*first_archive_columns(tmp_path, ARCHIVE_COLUMNS), **options)
    assert [r.message for r in caplog.records if "workers" in r.message] == []
    check("export-pages-edge-archive", dump())


@pytest.mark.parametrize("options", [SERIAL, WORKERS], ids=["serial", "workers"])
def test_pages_then_export(tmp_path, options):
    run(LEGACY / "page-html" / "深入剖析Kubernetes", **options)
    run(LEGACY / "export" / "深入剖析Kubernetes", **options)
    check("pages-export", dump())


def test_reimport_changes_no_row(tmp_path):
    folders = first_archive_columns(tmp_path, 2)
    run(LEGACY / "export" / "深入剖析Kubernetes", *folders)
    once = dump()
    run(LEGACY / "export" / "深入剖析Kubernetes", *folders)
    assert dump() == once
    run(LEGACY / "page-html" / "深入剖析Kubernetes")
    with_pages = dump()
    assert with_pages["counts"]["comments"] > once["counts"]["comments"]  # the pages' replies
    run(LEGACY / "page-html" / "深入剖析Kubernetes")
    assert dump() == with_pages
    check("reimported", with_pages)

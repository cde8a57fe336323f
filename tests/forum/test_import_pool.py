"""Parsing and rendering in worker processes (forum.importpool): same results, in order, and
the import goes on in this process when workers can't start or die."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from forum import importpool
from forum.legacy import iter_sources
from tests.forum import pool_workers
from tests.helpers import LEGACY

EXPORT = LEGACY / "export" / "深入剖析Kubernetes"
PAGES = LEGACY / "page-html" / "深入剖析Kubernetes"
pytestmark = pytest.mark.skipif(not EXPORT.is_dir(), reason=f"legacy pages not found at {LEGACY}")


def batches(jobs: int, paths=(EXPORT, PAGES), size: int = 10):
    sources = iter_sources([Path(p) for p in paths])
    return list(importpool.prepared_batches(sources, column="", batch_size=size, jobs=jobs))


def flat(result):
    return [item for batch in result for item in batch]


def test_workers_parse_and_render_every_file_as_this_process_would():
    serial, pooled = batches(1), batches(2)

    assert [len(b) for b in pooled] == [len(b) for b in serial] == [10] * 11 + [4]
    assert [p.source for p in flat(pooled)] == [p.source for p in flat(serial)]
    for here, there in zip(flat(serial), flat(pooled), strict=True):
        assert there.chapter == here.chapter
        # Rendered over there; the same HTML as the renderers give here.
        assert there.html and there.html == importpool.rendered(here.chapter)
        assert here.html == {}  # serially: rendered by the importer, only what it writes


def test_a_file_the_parse_refuses_comes_back_as_its_error(tmp_path):
    for name in ("01 - a.md", "02 - b.md"):
        (tmp_path / name).write_text("")  # empty
    for file in sorted((EXPORT / "docs").glob("1[0-9] - *.md"))[:3]:
        (tmp_path / file.name).write_bytes(file.read_bytes())

    result = flat(batches(2, [tmp_path], size=2))

    assert [(Path(p.source).name, p.error) for p in result if p.error] == [
        ("01 - a.md", (None, "empty file")),
        ("02 - b.md", (None, "empty file")),
    ]
    assert len([p for p in result if p.chapter]) == 3


def test_no_workers_in_a_daemonic_process(monkeypatch):
    # A Celery prefork child is daemonic: it may not start processes of its own.
    class Daemonic:
        daemon = True

    monkeypatch.setattr(importpool.multiprocessing, "current_process", Daemonic)

    assert all(item.html == {} for item in flat(batches(2)))  # all done here


def test_workers_that_die_leave_the_rest_to_this_process(monkeypatch, caplog):
    monkeypatch.setattr(importpool, "_prepare_batch", pool_workers.die)

    with caplog.at_level(logging.WARNING, logger="forum.importpool"):
        result = batches(2)

    assert [len(b) for b in result] == [10] * 11 + [4]  # every file, once, in order
    assert [p.source for p in flat(result)] == [p.source for p in flat(batches(1))]
    assert all(p.chapter for p in flat(result))
    assert any("import workers failed" in r.message for r in caplog.records)


def test_jobs_default_to_the_cores_this_process_may_use():
    assert importpool.default_jobs() == len(os.sched_getaffinity(0))

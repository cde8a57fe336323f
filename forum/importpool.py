"""Parsing and rendering legacy chapters in other processes while this one writes.

The import of a large archive spends about half of this process's time parsing files and
rendering HTML (article Markdown, comment text), work that needs no database. With `jobs` > 1,
worker processes do it a batch ahead: while the importer writes batch k, the workers prepare
batch k + 1 (and k + 2) on the other cores.

Invariants:
- Workers run pure functions only — forum.legacy's parser and forum.rendering's renderers,
  the very functions the importer calls itself — on the bytes of one file; they touch no
  database, no cache, no setting. What they return is what this process would have computed,
  so the rows written are the same with any `jobs` (tests/forum/test_import_snapshot.py).
- Order is kept: batches come back in the order of `sources`, chapters in file order.
- At most AHEAD batches are in flight, so memory stays a few batches' worth whatever the
  archive's size (the files are read lazily, as without workers).
- `jobs` ≤ 1, or a pool that can't start or dies (a worker killed, a daemonic process such
  as a Celery prefork child, which may not have children): everything is done here, serially,
  the same way. A pool is never worth starting for less than two batches.
"""

from __future__ import annotations

import collections
import itertools
import logging
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field

from .legacy import LegacyChapter, LegacyFormatError, LegacySource, parse_chapter
from .rendering import render_article_markdown, render_legacy_text, sanitize_html

logger = logging.getLogger(__name__)

AHEAD = 2  # batches prepared ahead of the one being written


@dataclass
class Prepared:
    """One file: its chapter (or why it was refused) and the HTML the import will need."""

    source: str
    chapter: LegacyChapter | None = None
    error: tuple[int | None, str] | None = None  # (line, reason) of a LegacyFormatError
    html: dict[tuple[str, str], str] = field(default_factory=dict)


def default_jobs() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def prepare(source: LegacySource, column: str, *, render: bool) -> Prepared:
    try:
        chapter = parse_chapter(
            source.data,
            source=source.source,
            column=column or source.column,
            position=source.position,
        )
    except LegacyFormatError as exc:
        return Prepared(source.source, error=(exc.line, exc.reason))
    prepared = Prepared(source.source, chapter)
    if render:  # in a worker: everything now; here: lazily, only what the import writes
        prepared.html = rendered(chapter)
    return prepared


def rendered(chapter: LegacyChapter) -> dict[tuple[str, str], str]:
    """(kind, text) → HTML for every text of the chapter (forum.importing.ImportRun.html)."""
    html = {}
    if chapter.format == "page":
        html["page", chapter.article_html] = sanitize_html(chapter.article_html)
    else:
        html["article", chapter.article_markdown] = render_article_markdown(
            chapter.article_markdown
        )
    for comment in chapter.comments:
        html["text", comment.text] = render_legacy_text(comment.text)
        for reply in comment.replies:
            html["text", reply.text] = render_legacy_text(reply.text)
    return html


def _prepare_batch(sources: list[LegacySource], column: str) -> list[Prepared]:
    return [prepare(source, column, render=True) for source in sources]


def prepared_batches(
    sources: Iterable[LegacySource], *, column: str, batch_size: int, jobs: int
) -> Iterator[list[Prepared]]:
    """The sources, parsed (and with jobs > 1 rendered), a batch at a time, in order."""
    batches = itertools.batched(sources, batch_size)
    pool = None
    if jobs > 1:
        head = list(itertools.islice(batches, AHEAD))
        pool = _pool(jobs) if len(head) >= 2 else None
        batches = itertools.chain(head, batches)
    if pool is None:  # without reading ahead: a batch is read when it is wanted
        for batch in batches:
            yield [prepare(source, column, render=False) for source in batch]
        return
    # [batch, its future]: a batch is in here from the moment it is taken from `batches`, so
    # one whose submit fails is not lost.
    pending: collections.deque[list] = collections.deque()
    try:
        while True:
            try:
                while len(pending) <= AHEAD and (batch := next(batches, None)) is not None:
                    pending.append([batch, None])
                    pending[-1][1] = pool.submit(_prepare_batch, list(batch), column)
                if not pending:
                    return
                result = pending[0][1].result()
            except (BrokenProcessPool, OSError) as exc:
                logger.warning("import workers failed (%r): going on in this process", exc)
                pool.shutdown(cancel_futures=True)
                for batch in itertools.chain((b for b, _ in pending), batches):
                    yield [prepare(source, column, render=False) for source in batch]
                return
            pending.popleft()
            yield result
    finally:
        pool.shutdown(cancel_futures=True)


def _pool(jobs: int) -> ProcessPoolExecutor | None:
    if jobs <= 1:
        return None
    if multiprocessing.current_process().daemon:
        return None  # e.g. a Celery prefork child: it may not start processes
    try:
        # forkserver: workers start from a clean process that imported only this module,
        # not from a copy of this one (its threads, its open database connection).
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return ProcessPoolExecutor(max_workers=jobs, mp_context=context)
    except (OSError, ValueError) as exc:
        logger.warning("import workers could not start (%s): going on in this process", exc)
        return None

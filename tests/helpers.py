"""Small helpers shared by several test modules."""

from __future__ import annotations

import contextlib
import functools
import io
import os
import socket
import struct
import subprocess
import threading
import zipfile
import zlib
from pathlib import Path

from django.db import connections
from selectolax.lexbor import LexborHTMLParser


def _legacy_root() -> Path:
    """The old site's real pages, `../shared/legacy/` beside the project. A clone made
    elsewhere (`git clone . /tmp/x`) finds them beside the repository it was cloned from, so the
    suite still reads the real pages rather than skipping them; COLLOQUY_LEGACY_DIR overrides."""
    if os.environ.get("COLLOQUY_LEGACY_DIR"):
        return Path(os.environ["COLLOQUY_LEGACY_DIR"])
    repo = Path(__file__).resolve().parents[1]
    beside = repo.parent / "shared" / "legacy"
    if beside.is_dir():
        return beside
    try:
        origin = subprocess.run(
            ["git", "-C", str(repo), "config", "--get", "remote.origin.url"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        return beside
    if origin and Path(origin).is_dir():
        cloned_from = Path(origin).resolve().parent / "shared" / "legacy"
        if cloned_from.is_dir():
            return cloned_from
    return beside


LEGACY = _legacy_root()


def comment_bodies(page_html: str) -> list[str]:
    """The text of every comment shown on a page, in page order."""
    tree = LexborHTMLParser(page_html)
    return [node.text(strip=True) for node in tree.css("article.comment .comment-body")]


def article_page(client, article):
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return response


def cache_keys() -> list[str]:
    """Every key in the cache: the local-memory one of the SQLite run, or the Redis of the
    PostgreSQL run (which runs its tests one at a time, so the database is this test's)."""
    from django.core.cache import cache

    store = cache._cache
    if isinstance(store, dict):
        return list(store)
    return [key.decode() for key in store.get_client().keys("*")]


def warm(readers: dict, url: str) -> None:
    """Read `url` twice as each reader (a client per persona): the second read is a hit."""
    for client in readers.values():
        assert client.get(url).status_code == 200
        assert client.get(url).status_code == 200


def pages(readers: dict, url: str) -> dict[str, str]:
    """`url` as each reader sees it now."""
    return {persona: client.get(url).text for persona, client in readers.items()}


def comment_count(article) -> int:
    article.refresh_from_db(fields=["comment_count"])
    return article.comment_count


def run_at_once(jobs) -> list:
    """Start every job together (a barrier), each in its own thread and database connection;
    return their results, and fail if any raised."""
    barrier = threading.Barrier(len(jobs))
    errors: list[BaseException] = []
    results: list = []

    def run(job):
        try:
            barrier.wait()
            results.append(job())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def celery_broker(url: str):
    """Send tasks through the broker at `url` (not eagerly) inside the block."""
    from config.celery import app

    previous = {key: app.conf[key] for key in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=url, task_always_eager=False)
    app._after_fork()  # drop connection pools made for the previous broker
    try:
        yield app
    finally:
        app.conf.update(previous)
        app._after_fork()


@contextlib.contextmanager
def celery_worker():
    """A real Celery worker (in a thread) on the Redis broker of TEST_REDIS_URL."""
    import pytest
    from celery.contrib.testing.worker import start_worker

    broker = os.environ.get("TEST_REDIS_URL")
    if not broker:
        pytest.skip("needs TEST_REDIS_URL (a Redis for the Celery broker; make test sets it)")
    with celery_broker(broker) as app:
        with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30) as w:
            yield w


def zip_of(members: dict[str, bytes], *, level: int = 9) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@functools.cache
def zip_bomb() -> bytes:
    """The attack as found: ~1 MB of zip declaring 18 chapters of 60 MB each (1.08 GB)."""
    zeros = bytes(60 * 1024 * 1024)
    return zip_of({f"K8s/{i:02d} - chapter.md": zeros for i in range(18)})


def png_bomb(side: int = 13000) -> bytes:
    """A valid 1-bit PNG of side×side black pixels: ~20 KB on disk, 169 megapixels decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )

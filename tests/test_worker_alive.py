"""The Celery worker's liveness probe: a heartbeat file its timer touches, read without Django."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config import worker_alive
from tests.helpers import celery_worker

ROOT = Path(__file__).resolve().parents[1]


def probe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own module
        [sys.executable, "-m", "config.worker_alive", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": os.environ.get("PATH", "")},  # nothing of Django's needed
    )


def test_a_fresh_heartbeat_is_alive(tmp_path):
    beat = tmp_path / "heartbeat"
    beat.touch()
    result = probe(str(beat))
    assert (result.returncode, result.stderr) == (0, "")


def test_a_stale_heartbeat_is_dead(tmp_path):
    beat = tmp_path / "heartbeat"
    beat.touch()
    old = time.time() - 120
    os.utime(beat, (old, old))

    result = probe(str(beat), "--max-age", "60")

    assert result.returncode == 1
    assert re.fullmatch(r"stale heartbeat: .*heartbeat is 12\d s old\n", result.stderr)


def test_no_heartbeat_is_dead(tmp_path):
    assert worker_alive.main([str(tmp_path / "missing")]) == 1


@pytest.mark.django_db(transaction=True)
def test_a_running_worker_keeps_its_heartbeat_fresh(tmp_path, monkeypatch):
    from config import celery

    beat = tmp_path / "heartbeat"
    monkeypatch.setenv("CELERY_HEARTBEAT_FILE", str(beat))
    monkeypatch.setattr(celery, "HEARTBEAT_SECONDS", 0.2)
    with celery_worker():
        deadline = time.monotonic() + 10
        while not beat.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker_alive.main([str(beat), "--max-age", "30"]) == 0
        old = time.time() - 120
        os.utime(beat, (old, old))  # as if the worker had stopped beating
        assert worker_alive.main([str(beat), "--max-age", "60"]) == 1
        deadline = time.monotonic() + 10
        while beat.stat().st_mtime < old + 60 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert worker_alive.main([str(beat), "--max-age", "60"]) == 0  # touched again

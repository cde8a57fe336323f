"""One worker process serves the whole bad-input table (tests/security/bad_inputs.py): every
request gets what the table says, and the process's peak memory grows by less than
PEAK_GROWTH_MB while it does (a 3 MB body, 2,000 fields, a 169-megapixel PNG and a 1 GB zip
bomb among them). DEBUG is off; the rest is the suite's configuration (it inherits
PYTEST_VERSION: plain HTTP, no static manifest) on its own SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PEAK_GROWTH_MB = 48  # measured: 13–26 MB over runs (110 requests, SQLite, this suite's machine)


def test_one_worker_serves_every_bad_input_in_bounded_memory(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "false",
        "SECRET_KEY": "test-only-secret-key-for-a-worker-subprocess-0123456789",
        "ALLOWED_HOSTS": "testserver",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.sqlite3'}",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "IMPORT_ROOT": str(tmp_path / "imports"),
    }
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    worker = subprocess.run(
        [sys.executable, "-m", "tests.security.bad_input_worker"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    report = json.loads(worker.stdout.strip().splitlines()[-1])

    wrong = [r for r in report["results"] if r["got"] != r["expected"]]
    wrote = [r["name"] for r in report["results"] if r["wrote"]]
    growth = report["after_mb"] - report["before_mb"]
    assert len(report["results"]) > 100
    assert not wrong
    assert not wrote
    assert growth < PEAK_GROWTH_MB, report

"""A worker killed (SIGKILL) in the middle of an import: the job doesn't stay "running".

A real worker process imports a real 59-chapter column from ../shared/legacy/; the test kills
it once some chapters are in, lets the lease run out, and a second worker, handed the job by
the sweeper, finishes it: every chapter in once, the job DONE.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.utils import timezone

from forum import importing, tasks
from forum.enums import ImportStatus
from forum.models import Article, ImportJob
from tests.factories import UserFactory
from tests.helpers import LEGACY, celery_broker, celery_worker

ROOT = Path(__file__).resolve().parents[2]
COLUMN = LEGACY / "export" / "深入剖析Kubernetes"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not COLUMN.is_dir(), reason=f"legacy column not found at {COLUMN}"),
]


COPIES = 8  # the column eight times over (the same chapters): long enough to be cut mid-way


def _column_zip() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for copy in range(COPIES):
            for path in sorted(COLUMN.rglob("*")):
                if path.is_file():
                    archive.write(path, f"copy-{copy}/{path.relative_to(COLUMN.parent)}")
    return SimpleUploadedFile("k8s.zip", buffer.getvalue(), content_type="application/zip")


def _wait(job, condition, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if condition(job):
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out: {job.status} {job.done}/{job.total}")


def test_a_job_whose_worker_was_killed_mid_import_is_finished_by_another(settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (a worker process shares the test database)")
    broker = os.environ.get("TEST_REDIS_URL")
    if not broker:
        pytest.skip("needs TEST_REDIS_URL (make test sets it)")
    settings.MEDIA_ROOT = tmp_path / "media"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "IMPORT_ROOT": str(settings.STORAGES["imports"]["OPTIONS"]["location"]),
        "SECRET_KEY": "test-only-secret-key-for-a-worker-subprocess-0123456789",
    }
    env.pop("REDIS_URL", None)
    worker = subprocess.Popen(  # noqa: S603 - our own venv's celery
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool", "solo",
         "--without-mingle", "--without-gossip", "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with celery_broker(broker):
            job = importing.create_import_job(uploads=[_column_zip()], user=UserFactory())
            _wait(job, lambda j: j.status == ImportStatus.RUNNING and 0 < j.done < j.total // 2)
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    job.refresh_from_db()
    cut_at, total = job.done, job.total
    assert job.status == ImportStatus.RUNNING and 0 < cut_at < total

    # The dead worker's lease runs out (IMPORT_LEASE); the sweeper hands the job on.
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now())
    with celery_worker():
        tasks.sweep_import_jobs.delay()
        _wait(job, lambda j: j.status == ImportStatus.DONE)

    assert job.done == job.total == total
    # Every chapter once: neither the copies nor the re-run after the kill added duplicates.
    assert Article.objects.count() == total // COPIES

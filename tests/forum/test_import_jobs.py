"""Import jobs survive their worker: claimed with a conditional UPDATE and a lease, resumed
when the lease runs out, and read through the storage so any machine's worker can run them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db.models.fields.files import FieldFile
from django.utils import timezone

from forum import importing, tasks
from forum.enums import ImportStatus
from forum.models import Article, ImportJob
from tests.factories import UserFactory
from tests.helpers import LEGACY

EXPORT_DOCS = LEGACY / "export" / "深入剖析Kubernetes" / "docs"
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(not LEGACY.is_dir(), reason=f"legacy pages not found at {LEGACY}"),
]


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def _job(*, status=ImportStatus.PENDING, lease_until=None, age=timedelta(0)) -> ImportJob:
    chapter = sorted(EXPORT_DOCS.glob("1[0-9] - *.md"))[0]
    job = ImportJob(created_by=UserFactory(), status=status, lease_until=lease_until)
    job.upload.save(chapter.name, ContentFile(chapter.read_bytes()), save=False)
    job.save()
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - age)
    return job


def test_a_job_left_running_by_a_dead_worker_is_finished_by_the_next_delivery():
    job = _job(status=ImportStatus.RUNNING, lease_until=timezone.now() - timedelta(seconds=1))

    importing.run_import_job(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.done == job.total == 1
    assert job.lease_until is None
    assert Article.objects.count() == 1


def test_a_job_another_worker_holds_is_left_alone():
    lease = timezone.now() + timedelta(minutes=1)
    job = _job(status=ImportStatus.RUNNING, lease_until=lease)

    importing.run_import_job(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ImportStatus.RUNNING
    assert job.lease_until == lease
    assert Article.objects.count() == 0


@pytest.mark.parametrize("status", [ImportStatus.DONE, ImportStatus.FAILED])
def test_a_finished_job_is_never_run_again(status):
    job = _job(status=status)

    assert importing.claim_import_job(job.pk) is None
    importing.run_import_job(job_id=job.pk)

    assert ImportJob.objects.get(pk=job.pk).status == status
    assert Article.objects.count() == 0


def test_only_one_of_two_claims_wins():
    job = _job()

    first, second = importing.claim_import_job(job.pk), importing.claim_import_job(job.pk)

    assert first is not None and first.status == ImportStatus.RUNNING
    assert second is None
    assert first.lease_until > timezone.now() + importing.IMPORT_LEASE - timedelta(seconds=5)


def test_the_sweeper_resumes_stale_jobs_and_only_those():
    now = timezone.now()
    stale_running = _job(status=ImportStatus.RUNNING, lease_until=now - timedelta(seconds=1))
    lost_pending = _job(age=timedelta(minutes=2))
    fresh_pending = _job()
    held = _job(status=ImportStatus.RUNNING, lease_until=now + timedelta(minutes=1))
    done = _job(status=ImportStatus.DONE)

    assert set(importing.jobs_to_resume()) == {stale_running.pk, lost_pending.pk}

    tasks.sweep_import_jobs()  # eager Celery: the re-enqueued imports run now

    status = dict(ImportJob.objects.values_list("pk", "status"))
    assert status[stale_running.pk] == status[lost_pending.pk] == ImportStatus.DONE
    assert status[fresh_pending.pk] == ImportStatus.PENDING
    assert status[held.pk] == ImportStatus.RUNNING
    assert status[done.pk] == ImportStatus.DONE


def test_a_job_is_read_through_the_storage_not_a_local_path(settings, monkeypatch):
    # A worker on another machine (or a storage such as S3) has no local path for the upload.
    settings.STORAGES = {
        **settings.STORAGES,
        "imports": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    job = _job()

    def no_local_path(self):
        raise NotImplementedError("this storage has no local paths")

    monkeypatch.setattr(FieldFile, "path", property(no_local_path))

    importing.run_import_job(job_id=job.pk)

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE, job.errors
    assert Article.objects.count() == 1

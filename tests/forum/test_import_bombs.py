"""Hostile uploads to the legacy import: zip bombs, nesting, file types, a job that kills workers.

The admin's upload form refuses what it can judge from the central directory; whatever gets
past it (a bomb inside a zip) fails its job with a message naming files inside the upload,
never a server path, and the upload is deleted however the job ends.
"""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from forum import importing, tasks
from forum.enums import ImportStatus
from forum.legacy import LegacyFormatError, iter_sources, sources
from forum.models import Article, ImportJob
from tests.factories import UserFactory
from tests.helpers import LEGACY, zip_bomb, zip_of

EXPORT_DOCS = LEGACY / "export" / "深入剖析Kubernetes" / "docs"
needs_legacy = pytest.mark.skipif(not LEGACY.is_dir(), reason=f"no legacy pages at {LEGACY}")
ADD_URL = "admin:forum_importjob_add"
MB = 1024 * 1024


@pytest.fixture(scope="session")
def bomb() -> bytes:
    return zip_bomb()


@pytest.fixture
def importer(db):
    user = UserFactory(display_name="importer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="import_legacy"))
    return user


def _stored_uploads() -> list[str]:
    storage = storages["imports"]
    found, folders = [], [""]
    while folders:
        folder = folders.pop()
        dirs, files = storage.listdir(folder) if storage.exists(folder or ".") else ([], [])
        folders += [f"{folder}/{d}".lstrip("/") for d in dirs]
        found += [f"{folder}/{f}".lstrip("/") for f in files]
    return found


def _post(client, importer, name: str, data: bytes):
    client.force_login(importer)
    upload = SimpleUploadedFile(name, data, content_type="application/zip")
    return client.post(reverse(ADD_URL), {"files": [upload]})


# --- refused at the form: nothing stored, no job ----------------------------------------------


@pytest.mark.django_db
def test_the_gigabyte_bomb_is_refused_at_the_form(client, importer, bomb):
    assert len(bomb) < 2 * MB

    response = _post(client, importer, "k8s.zip", bomb)

    assert response.status_code == 400
    assert "k8s.zip can&#x27;t be imported:" in response.text
    assert "is compressed more than 100 to 1 (a zip bomb, not text)" in response.text
    assert not ImportJob.objects.exists()
    assert _stored_uploads() == []


@pytest.mark.django_db
def test_an_archive_unpacking_past_the_total_is_refused(client, importer, monkeypatch):
    # Text-like members (not compressible 100:1) whose sum passes the total: the limit is
    # lowered so the test needs no gigabyte of incompressible data.
    monkeypatch.setattr(sources, "MAX_UNPACKED_BYTES", 2 * MB)
    chapter = sorted(EXPORT_DOCS.glob("1[0-9] - *.md"))[0].read_bytes()
    members = {f"K8s/{i:02d} - c.md": chapter * (MB // len(chapter)) for i in range(3)}

    response = _post(client, importer, "big.zip", zip_of(members))

    assert response.status_code == 400
    assert "the archive would unpack to more than 2 MB" in response.text
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_an_archive_of_too_many_files_is_refused(client, importer, monkeypatch):
    monkeypatch.setattr(sources, "MAX_ARCHIVE_MEMBERS", 50)

    response = _post(client, importer, "many.zip", zip_of({f"c/{i}.md": b"x" for i in range(51)}))

    assert response.status_code == 400
    assert "the archive holds more than 50 files" in response.text
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_a_file_that_is_not_a_zip_under_a_zip_name_is_refused(client, importer):
    response = _post(client, importer, "fake.zip", b"PK\x03\x04 not really")

    assert response.status_code == 400
    assert "fake.zip can&#x27;t be imported: not a readable zip archive." in response.text
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["page.html", "page.htm", "archive.tar.xz", "notes.txt"])
def test_file_types_the_importer_cannot_read_are_refused(client, importer, name):
    response = _post(client, importer, name, b"<html>hello</html>")

    assert response.status_code == 400
    assert f"{name} is not a .md or .zip file." in response.text
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_without_a_broker_the_upload_says_to_use_a_worker(client, importer, settings):
    # Production without CELERY_BROKER_URL: the import would run inside the request and be
    # killed by gunicorn's timeout half way.
    settings.CELERY_BROKER_URL = ""
    settings.IMPORT_IN_WEB_PROCESS = False
    chapter = SimpleUploadedFile("01 - a.md", b"# a\n")
    client.force_login(importer)

    response = client.post(reverse(ADD_URL), {"files": [chapter]})

    assert response.status_code == 400
    assert "Imports run on a Celery worker, and this site has none" in response.text
    assert "manage.py import_legacy" in response.text
    assert not ImportJob.objects.exists()
    assert _stored_uploads() == []


# --- what gets past the form fails its job cleanly --------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_bomb_inside_a_zip_fails_its_job_in_bounded_memory(importer, bomb):
    # The outer archive is innocent by its central directory (the inner zip barely compresses);
    # the inner one is the bomb. It is refused when opened, before a member is read.
    outer = SimpleUploadedFile("upload.zip", zip_of({"inner.zip": bomb}, level=0))
    tracemalloc.start()
    try:
        job = importing.create_import_job(uploads=[outer], user=importer)  # eager: runs now
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.finished_at is not None and job.lease_until is None
    [error] = job.errors
    assert error["file"] == "upload.zip/inner.zip"
    assert "is compressed more than 100 to 1" in error["reason"]
    assert "/tmp" not in str(job.errors) and "colloquy-import-" not in str(job.errors)
    assert peak < 40 * MB, f"peak {peak / MB:.1f} MB"  # the bomb itself is ~1 MB in the zip
    assert _stored_uploads() == []  # the upload went with the job
    assert not Article.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_archives_nested_too_deep_fail_the_job(importer):
    chapter = b"# t\n"
    nested = zip_of({"K8s/01 - a.md": chapter})
    for depth in range(3):
        nested = zip_of({f"level{depth}.zip": nested})
    job = importing.create_import_job(
        uploads=[SimpleUploadedFile("deep.zip", nested)], user=importer
    )

    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert job.errors[0]["reason"] == "archives nested more than 3 deep"
    assert job.errors[0]["file"] == "deep.zip/level2.zip/level1.zip/level0.zip"


@needs_legacy
@pytest.mark.django_db(transaction=True)
def test_a_finished_job_deletes_its_upload(importer):
    chapter = sorted(EXPORT_DOCS.glob("1[0-9] - *.md"))[0]
    job = importing.create_import_job(
        uploads=[SimpleUploadedFile(chapter.name, chapter.read_bytes())], user=importer
    )

    job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert Article.objects.count() == 1
    assert _stored_uploads() == []
    assert job.upload.name.startswith("imports/")  # the name stays for the record


@pytest.mark.django_db(transaction=True)
def test_an_unexpected_error_fails_the_job_without_its_details(importer, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("cannot open /srv/colloquy/secret/path")

    monkeypatch.setattr(importing, "import_sources", broken)

    with pytest.raises(RuntimeError):  # eager Celery propagates; a worker logs it
        importing.create_import_job(
            uploads=[SimpleUploadedFile("01 - a.md", b"# a\n")], user=importer
        )

    job = ImportJob.objects.get()
    assert job.status == ImportStatus.FAILED
    assert job.errors == [
        {
            "file": "01_-_a.md",  # as stored
            "line": None,
            "reason": "the import stopped on an unexpected error (it was logged)",
        }
    ]
    assert _stored_uploads() == []


@pytest.mark.django_db
def test_a_job_that_keeps_killing_its_worker_is_failed_not_resumed(importer):
    job = ImportJob.objects.create(
        upload="imports/x.zip",
        created_by=importer,
        status=ImportStatus.RUNNING,
        lease_until=timezone.now() - timedelta(seconds=1),
        attempts=importing.MAX_IMPORT_ATTEMPTS,
    )

    assert importing.claim_import_job(job.pk) is None
    tasks.sweep_import_jobs()

    job.refresh_from_db()
    assert job.status == ImportStatus.FAILED
    assert "the import stopped 3 times without finishing" in job.errors[0]["reason"]


@pytest.mark.django_db
def test_each_claim_counts_an_attempt(importer):
    job = ImportJob.objects.create(upload="imports/x.zip", created_by=importer)

    assert importing.claim_import_job(job.pk).attempts == 1
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert importing.claim_import_job(job.pk).attempts == 2


def test_the_upload_storage_is_outside_media(settings):
    assert not Path(settings.IMPORT_ROOT).is_relative_to(settings.MEDIA_ROOT)


# --- streaming: files are read as the import reaches them ------------------------------------


def test_counting_the_files_reads_none_of_them(tmp_path, monkeypatch):
    archive = tmp_path / "col.zip"
    archive.write_bytes(zip_of({f"K8s/{i:02d} - c.md": b"# c\n" for i in range(5)}))
    reads = []
    real_read = sources._read

    def counting_read(node, source):
        reads.append(source)
        return real_read(node, source)

    monkeypatch.setattr(sources, "_read", counting_read)

    found = list(iter_sources([archive], read=False))

    assert len(found) == 5
    assert {s.data for s in found} == {b""}
    assert reads == []


@pytest.mark.django_db
def test_the_import_pulls_files_one_batch_at_a_time(tmp_path):
    archive = tmp_path / "col.zip"
    archive.write_bytes(zip_of({f"K8s/{i:02d} - c.md": b"# c\n\nbody\n" for i in range(1, 8)}))
    pulled = []

    def lazily():
        for source in iter_sources([archive]):
            pulled.append(source.source)
            yield source

    seen_at_progress = []
    importing.import_sources(
        lazily(),
        batch_size=3,
        total=7,
        progress=lambda done, total, *_: seen_at_progress.append((done, total, len(pulled))),
    )

    assert seen_at_progress == [(3, 7, 3), (6, 7, 6), (7, 7, 7)]


def test_the_real_archive_passes_the_limits(tmp_path):
    """The 186 real columns, zipped: nothing in them trips a limit (64 MB, 8,368 entries)."""
    import tarfile

    tarball = LEGACY / "archive" / "geektime-docs-186-columns.tar.xz"
    if not tarball.is_file():
        pytest.skip(f"no {tarball}")
    archive = tmp_path / "archive.zip"
    with (
        tarfile.open(tarball) as tar,
        zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as out,
    ):
        for member in tar:
            if member.isfile():
                out.writestr(member.name, tar.extractfile(member).read())

    sources.check_archive(archive, "archive.zip")  # raises if a limit is passed
    with pytest.raises(LegacyFormatError):
        sources.check_archive(io.BytesIO(b"not a zip"), "x.zip")

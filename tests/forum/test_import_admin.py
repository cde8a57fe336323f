"""The admin page "Import legacy pages": upload → job → Celery task → progress and summary."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from selectolax.lexbor import LexborHTMLParser

from forum.enums import ImportStatus
from forum.models import Article, Comment, ImportJob
from tests.factories import UserFactory
from tests.helpers import LEGACY

EXPORT_DOCS = LEGACY / "export" / "深入剖析Kubernetes" / "docs"
needs_legacy = pytest.mark.skipif(
    not LEGACY.is_dir(), reason=f"legacy sample pages not found at {LEGACY}"
)

ADD_URL = "admin:forum_importjob_add"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def importer(db):
    user = UserFactory(display_name="importer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="import_legacy"))
    return user


def chapter_files(count: int = 2) -> list[SimpleUploadedFile]:
    files = sorted(EXPORT_DOCS.glob("1[0-9] - *.md"))[:count]
    return [SimpleUploadedFile(f.name, f.read_bytes(), content_type="text/markdown") for f in files]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("persona", "status"),
    [("reader", 302), ("moderator", 403), ("importer", 200), ("admin_user", 200)],
)
def test_only_staff_with_the_import_permission_see_the_upload_page(
    client, request, persona, status
):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse(ADD_URL))

    assert response.status_code == status
    if status == 200:
        assert "Import legacy pages" in response.text


@pytest.mark.django_db
def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get(reverse(ADD_URL))
    assert response.status_code == 302
    assert reverse("admin:login") in response.url


@pytest.mark.django_db
def test_a_moderator_cannot_upload_either(client, moderator):
    client.force_login(moderator)
    response = client.post(reverse(ADD_URL), {"files": chapter_files(1)} if LEGACY.is_dir() else {})
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


@pytest.mark.django_db
def test_upload_of_a_wrong_file_type_is_refused_with_a_message(client, importer):
    client.force_login(importer)
    bogus = SimpleUploadedFile("virus.exe", b"MZ\x90\x00", content_type="application/octet-stream")

    response = client.post(reverse(ADD_URL), {"files": [bogus]})

    assert response.status_code == 400
    assert "virus.exe is not a .md or .zip file." in response.text
    assert not ImportJob.objects.exists()


def test_an_upload_without_files_is_refused_and_starts_no_job(client, importer):
    # The file input is required in the page; a request made without the page gets the same.
    client.force_login(importer)

    response = client.post(reverse(ADD_URL), {"column": "K8s"})

    assert response.status_code == 400
    assert "This field is required." in response.text
    assert not ImportJob.objects.exists()


@needs_legacy
@pytest.mark.django_db(transaction=True)
def test_upload_runs_the_import_and_the_job_page_shows_the_summary(client, importer):
    client.force_login(importer)

    response = client.post(reverse(ADD_URL), {"files": chapter_files(2), "column": "K8s"})

    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("admin:forum_importjob_change", args=[job.pk])
    job.refresh_from_db()  # eager Celery ran the task after the commit
    assert job.status == ImportStatus.DONE
    assert (job.done, job.total) == (2, 2)
    assert job.summary["chapters"]["created"] == 2
    assert Article.objects.filter(column__title="K8s").count() == 2
    assert job.rows == 2 + Comment.objects.count()  # the chapters and their comments
    assert job.started_at is not None
    page = client.get(response.url)
    assert page.status_code == 200
    assert "2 / 2" in page.text and "100%" in page.text
    assert 'hx-trigger="every 1s"' not in page.text  # finished: no more polling


@pytest.mark.django_db
def test_progress_fragment_keeps_polling_while_the_job_runs(client, importer):
    client.force_login(importer)
    job = ImportJob.objects.create(
        upload="imports/x.zip", created_by=importer, status=ImportStatus.RUNNING, done=3, total=10
    )

    response = client.get(reverse("admin:forum_importjob_progress", args=[job.pk]))

    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'hx-trigger="every 1s"' in response.text
    assert '<progress max="10" value="3"' in response.text
    assert "30%" in response.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "rows", "left"),
    [("en", "1234 chapters and comments so far", "about 28 seconds left"),
     ("zh-hans", "已导入 1234 个章节和留言", "约剩 28 秒")],
)  # fmt: skip
def test_progress_shows_the_rows_so_far_and_the_time_left(client, importer, language, rows, left):
    # 3 of 10 files in 12 s: the 7 left take about 28 s at that pace.
    client.force_login(importer)
    job = ImportJob.objects.create(
        upload="imports/x.zip", created_by=importer, status=ImportStatus.RUNNING, done=3,
        total=10, rows=1234, started_at=timezone.now() - timedelta(seconds=12),
    )  # fmt: skip

    response = client.get(
        reverse("admin:forum_importjob_progress", args=[job.pk]), HTTP_ACCEPT_LANGUAGE=language
    )

    assert response.status_code == 200
    text = " ".join(LexborHTMLParser(response.text).css_first(".import-rows").text().split())
    assert text == f"{rows} · {left}"


@pytest.mark.django_db
def test_progress_shows_no_time_left_before_the_first_batch_nor_once_done(client, importer):
    client.force_login(importer)
    job = ImportJob.objects.create(
        upload="imports/x.zip", created_by=importer, status=ImportStatus.RUNNING, done=0,
        total=10, started_at=timezone.now(),
    )  # fmt: skip
    url = reverse("admin:forum_importjob_progress", args=[job.pk])
    assert "import-rows" not in client.get(url).text  # nothing yet: no rows, no estimate
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.DONE, done=10, rows=5000)
    text = client.get(url).text
    assert "5000 chapters and comments so far" in text
    assert "left" not in text


@pytest.mark.django_db
def test_progress_fragment_is_refused_without_the_permission(client, moderator, importer):
    job = ImportJob.objects.create(upload="imports/x.zip", created_by=importer)
    client.force_login(moderator)

    assert client.get(reverse("admin:forum_importjob_progress", args=[job.pk])).status_code == 403


@needs_legacy
@pytest.mark.django_db(transaction=True)
def test_broken_file_in_an_upload_is_listed_and_the_others_go_in(client, importer):
    client.force_login(importer)
    good = chapter_files(1)[0]
    broken = SimpleUploadedFile("12 - broken.md", b"\xff\xfe not utf-8 \x00\x01")

    client.post(reverse(ADD_URL), {"files": [good, broken], "column": "K8s"})

    job = ImportJob.objects.get()
    assert job.status == ImportStatus.DONE
    assert job.summary["chapters"]["created"] == 1
    assert [error["file"].rsplit("/", 1)[-1] for error in job.errors] == ["12 - broken.md"]
    page = client.get(reverse("admin:forum_importjob_change", args=[job.pk]))
    assert "12 - broken.md" in page.text


@needs_legacy
@pytest.mark.integration
def test_upload_is_imported_by_a_real_celery_worker_on_redis(client, celery_worker_on_redis):
    importer = UserFactory(display_name="importer", is_staff=True)
    importer.user_permissions.add(Permission.objects.get(codename="import_legacy"))
    client.force_login(importer)

    client.post(reverse(ADD_URL), {"files": chapter_files(2), "column": "K8s"})

    job = ImportJob.objects.get()
    deadline = time.monotonic() + 60
    while job.status != ImportStatus.DONE and time.monotonic() < deadline:
        time.sleep(0.2)
        job.refresh_from_db()
    assert job.status == ImportStatus.DONE
    assert job.summary["chapters"]["created"] == 2
    assert Comment.objects.filter(article__column__title="K8s").count() > 0

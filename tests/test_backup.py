"""The backup drill: scripts/backup.sh backs up a site with real content (a real column imported,
comments, likes, an avatar) and restores it into a fresh database: counters right, every
table's rows as they were, the media files back."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import psycopg
import pytest
from django.db import connections

from forum import services
from forum.models import Comment
from tests.factories import UserFactory
from tests.helpers import LEGACY

from .test_settings import ROOT

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SCRIPT = str(ROOT / "scripts" / "backup.sh")


def url(db: dict, name: str) -> str:
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT']}/{name}"


def run(args: list[str], media: Path, **env) -> subprocess.CompletedProcess:
    hidden = {"PYTEST_VERSION", "REDIS_URL", "TEST_REDIS_URL", "CELERY_BROKER_URL"}
    base = {k: v for k, v in os.environ.items() if k not in hidden}
    return subprocess.run(
        ["bash", SCRIPT, *args],
        env={**base, "DEBUG": "true", "MEDIA_ROOT": str(media), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def fresh_database():
    db = connections["default"].settings_dict
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL")
    name = f"restore_{uuid.uuid4().hex[:8]}"
    admin = f"host={db['HOST'] or '127.0.0.1'} port={db['PORT']} user={db['USER']} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url(db, name)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_then_restore_into_a_fresh_database(tmp_path, fresh_database):
    db = connections["default"].settings_dict
    live = url(db, db["NAME"])
    from django.core.management import call_command

    call_command("import_legacy", str(LEGACY / "export" / "深入剖析Kubernetes"), jobs=1)
    reader = UserFactory(display_name="Backed up")
    root = Comment.objects.order_by("pk").first()
    reply = services.post_comment(article=root.article, author=reader, body="A reply.", parent=root)
    services.toggle_like(user=reader, comment=reply)
    media = tmp_path / "media"
    (media / "avatars").mkdir(parents=True)
    (media / "avatars" / "a.png").write_bytes(b"\x89PNG avatar bytes")
    comments = Comment.objects.count()

    backup = run(["backup", str(tmp_path / "backup")], media, DATABASE_URL=live)
    assert backup.returncode == 0, backup.stderr
    rows = (tmp_path / "backup" / "rows.txt").read_text()
    assert f"forum_comment {comments}\n" in rows

    restored_media = tmp_path / "restored-media"
    restore = run(["restore", str(tmp_path / "backup"), fresh_database], restored_media)
    assert restore.returncode == 0, restore.stdout + restore.stderr
    assert "All counters are right." in restore.stdout
    assert "every table's rows as backed up" in restore.stdout
    assert (restored_media / "avatars" / "a.png").read_bytes() == b"\x89PNG avatar bytes"
    with psycopg.connect(fresh_database.replace("postgres://", "postgresql://")) as conn:
        (count,) = conn.execute("SELECT count(*) FROM forum_comment").fetchone()
        (likes,) = conn.execute(
            "SELECT like_count FROM forum_comment WHERE id = %s", [reply.pk]
        ).fetchone()
    assert (count, likes) == (comments, 1)

    # The drill refuses what would hide a bad restore: a database that isn't empty...
    again = run(["restore", str(tmp_path / "backup"), fresh_database], restored_media)
    assert again.returncode != 0
    assert "the target database is not empty" in again.stderr


def test_a_restore_whose_rows_differ_fails(tmp_path, fresh_database):
    db = connections["default"].settings_dict
    UserFactory(display_name="One")
    media = tmp_path / "media"
    backup = run(["backup", str(tmp_path / "b")], media, DATABASE_URL=url(db, db["NAME"]))
    assert backup.returncode == 0, backup.stderr
    rows = tmp_path / "b" / "rows.txt"
    rows.write_text(rows.read_text().replace("accounts_user 1\n", "accounts_user 2\n"))
    restore = run(["restore", str(tmp_path / "b"), fresh_database], tmp_path / "m")
    assert restore.returncode != 0
    assert "the restored row counts differ from the backup's" in restore.stderr

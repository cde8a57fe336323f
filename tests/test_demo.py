"""`make run`'s demo: what `seed_demo` prints, loads and sends."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F, Min
from django.utils import timezone

from accounts.models import User
from forum.models import Article, Comment
from forum.permissions import MODERATORS_GROUP, is_moderator
from notifications.models import Notification, OutgoingEmail

ROOT = Path(__file__).resolve().parent.parent


def seed(settings) -> str:
    settings.DEBUG = True
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


@pytest.mark.django_db(transaction=True)
def test_the_demo_sends_no_email_about_its_backdated_history(settings, mailoutbox):
    seed(settings)

    assert mailoutbox == []
    assert OutgoingEmail.objects.count() == 0
    # The notifications stay: the demo reader's bell has something to show.
    assert Notification.objects.filter(recipient__email="reader@example.com").exists()


@pytest.mark.django_db
def test_the_banner_names_every_demo_account_with_its_role(settings):
    settings.SITE_URL = "http://127.0.0.1:8765"

    output = seed(settings)

    banner = output[output.index("Colloquy demo") :]
    assert "http://127.0.0.1:8765/" in banner
    assert "Every demo account's password: colloquy-demo" in banner
    for email, role in [
        ("admin@example.com", "admin"),
        ("lin.author@example.com", "column author"),
        ("moderator@example.com", "moderator"),
        ("reader@example.com", "reader"),
    ]:
        assert f"{email}" in banner and f"{role}:" in banner
    moderator = User.objects.get(email="moderator@example.com")
    assert moderator.is_staff and moderator.has_perm("moderation.moderate")
    # A second run loads nothing again and prints the same banner.
    assert seed(settings).endswith(banner)
    assert Article.objects.filter(column__slug="reliable-web-services").count() == 3


@pytest.mark.django_db
def test_the_demo_moderator_can_moderate_even_if_the_group_was_deleted(settings):
    Group.objects.filter(name=MODERATORS_GROUP).delete()

    seed(settings)

    moderator = User.objects.get(email="moderator@example.com")
    assert is_moderator(moderator)


@pytest.mark.django_db
def test_demo_dates_are_consistent(settings, client):
    seed(settings)

    written = Comment.objects.filter(article__legacy_key=None)
    assert written.count() == 13
    assert not written.filter(created_at__lt=F("article__published_at")).exists()
    earliest = written.aggregate(first=Min("created_at"))["first"]
    demo_people = User.objects.filter(email__endswith="@example.com")
    assert demo_people.count() == 7
    assert not demo_people.filter(date_joined__gte=earliest).exists()
    # Imported chapters carry no date of their own: the page shows none (not the import's).
    imported = Article.objects.exclude(legacy_key=None).select_related("column").first()
    page = client.get(imported.get_absolute_url()).content.decode()
    meta = page[page.index('<div class="meta">') : page.index('<div class="article-body">')]
    assert "<time" not in meta
    written = Article.objects.filter(legacy_key=None).select_related("column").first()
    page = client.get(written.get_absolute_url()).content.decode()
    meta = page[page.index('<div class="meta">') : page.index('<div class="article-body">')]
    shown = timezone.localtime(written.published_at).strftime("%Y-%m-%d")
    assert f">{shown}</time>" in meta


@pytest.mark.django_db
def test_seed_demo_refuses_without_debug_and_says_how(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="--force"):
        call_command("seed_demo", stdout=io.StringIO())


def test_make_run_links_emails_and_the_banner_to_its_address(tmp_path):
    """`make run ADDR=…`: the banner and SITE_URL follow the address runserver listens on."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTEST_VERSION", "SITE_URL"}}
    env |= {
        "DEBUG": "true",
        "ADDR": "0.0.0.0:8765",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        )

    manage("migrate", "--noinput", "-v0")
    result = manage("seed_demo")

    assert result.stdout.rstrip().splitlines()[-1].strip().startswith("reader@example.com")
    assert "Colloquy demo: http://127.0.0.1:8765/" in result.stdout
    assert "Content-Transfer-Encoding" not in result.stdout + result.stderr  # no printed emails
    assert "Task notifications" not in result.stderr
    site_url = manage("shell", "-c", "from django.conf import settings; print(settings.SITE_URL)")
    assert site_url.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8765"

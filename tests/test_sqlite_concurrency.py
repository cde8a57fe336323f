"""SQLite, the zero-setup default, must hold concurrent writers without "database is locked".

Two processes (as two gunicorn workers would) post comments and like them as fast as they can
into one SQLite file, each write a read-then-write transaction. With WAL, IMMEDIATE
transactions and a busy timeout every write succeeds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SETUP = """
import django; django.setup()
from tests.factories import ArticleFactory, UserFactory
article = ArticleFactory()
for n in range(2):
    UserFactory(email=f"w{n}@example.com", display_name=f"writer{n}")
print(article.pk)
"""

WRITER = """
import sys, django; django.setup()
from django.db import OperationalError
from accounts.models import User
from forum import services
from forum.models import Article
worker, article_id, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
user = User.objects.get(email=f"w{worker}@example.com")
errors = 0
for n in range(rounds):
    try:
        article = Article.objects.get(pk=article_id)
        comment = services.post_comment(article=article, author=user, body=f"w{worker} #{n}")
        services.toggle_like(user=user, comment=comment)
    except OperationalError as exc:
        errors += 1
        print("ERROR", exc, file=sys.stderr)
print(errors)
"""


def test_two_writer_processes_never_hit_database_is_locked(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    env.update(
        DEBUG="true",
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PYTHONPATH=str(ROOT),
    )
    run = dict(env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], **run)
    assert migrate.returncode == 0, migrate.stderr
    setup = subprocess.run([sys.executable, "-c", SETUP], **run)
    assert setup.returncode == 0, setup.stderr
    article_id = setup.stdout.strip().splitlines()[-1]

    rounds = 150
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n), article_id, str(rounds)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]

    for (stdout, stderr), worker in zip(outputs, workers, strict=True):
        assert worker.returncode == 0, stderr
        assert stdout.strip().splitlines()[-1] == "0", stderr
    count = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup()\n"
            "from forum.models import Article, Comment, Like\n"
            f"a = Article.objects.get(pk={article_id})\n"
            "print(Comment.objects.count(), Like.objects.count(), a.comment_count)",
        ],
        **run,
    )
    assert count.stdout.split() == [str(2 * rounds)] * 3, count.stderr

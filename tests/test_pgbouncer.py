"""The site's database work through a real PgBouncer in transaction pooling mode.

Each run is a fresh `manage.py` process whose DATABASE_URL points at the bouncer (as a deployed
web or worker process's would), with PGBOUNCER=true: the import of a real column (COPY, id
reservations, batches in transactions), reading every comment with `.iterator()`, posting and
liking through the services, and the recount. A control run without PGBOUNCER shows what the
setting prevents: a server-side cursor declared on one server connection and fetched on another.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from django.db import connections

from forum.models import Article, Comment
from tests.helpers import LEGACY
from tests.servers import pgbouncer

from .test_settings import run_manage

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        shutil.which("pgbouncer") is None and not os.path.exists("/usr/sbin/pgbouncer"),
        reason="needs pgbouncer",
    ),
]

COLUMN = LEGACY / "export" / "深入剖析Kubernetes"
IMPORT = ["import_legacy", "--jobs", "1", str(COLUMN)]

# Reads every comment through a server-side cursor (when they are on), while a second client
# takes the server connection the cursor was declared on: its next FETCH lands on another one.
WORKLOAD = """
import psycopg
from django.db import connection
from forum import services
from forum.models import Article, Comment
from accounts.models import User

seen = 0
other = None
for seen, comment in enumerate(Comment.objects.order_by("pk").iterator(chunk_size=20), 1):
    if seen == 1:
        params = connection.get_connection_params()
        other = psycopg.connect(
            host=params["host"], port=params["port"], user=params["user"],
            dbname=params["dbname"], prepare_threshold=None,
        )
        other.execute("SELECT 1")  # a transaction open: it holds that server connection
print("iterated", seen)
other.rollback()
other.close()

article = Article.objects.order_by("pk").first()
reader = User.objects.create_user(email="bouncer@example.com", password="x" * 12,
                                  display_name="Through the bouncer")
comment = services.post_comment(article=article, author=reader, body="Pooled per transaction.")
services.toggle_like(user=reader, comment=comment)
print("posted", comment.pk)
"""


def manage(args: list[str], port: int, *, pgbouncer_setting: bool, tmp_path: Path):
    """manage.py in a fresh process whose database is the suite's, through the bouncer."""
    db = connections["default"].settings_dict
    env = {
        "DEBUG": "true",
        "DATABASE_URL": f"postgres://{db['USER']}@127.0.0.1:{port}/{db['NAME']}",
        "PGBOUNCER": "true" if pgbouncer_setting else "false",
        "CONN_MAX_AGE": "0",
    }
    return run_manage(args, env, tmp_path)


@pytest.fixture
def bouncer():
    with pgbouncer(connections["default"].settings_dict, pool_size=2) as port:
        yield port


def test_import_reads_writes_and_recount_work_through_pgbouncer(bouncer, tmp_path):
    imported = manage(IMPORT, bouncer, pgbouncer_setting=True, tmp_path=tmp_path)
    assert imported.returncode == 0, imported.stderr[-3000:]
    stored = Comment.objects.count()
    assert Article.objects.count() > 0
    assert stored > 100

    ran = manage(["shell", "-c", WORKLOAD], bouncer, pgbouncer_setting=True, tmp_path=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert f"iterated {stored}" in ran.stdout
    posted = Comment.objects.get(body_md="Pooled per transaction.")
    assert posted.like_count == 1
    assert posted.author.display_name == "Through the bouncer"

    checked = manage(["recount", "--check"], bouncer, pgbouncer_setting=True, tmp_path=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All counters are right." in checked.stdout


def test_without_the_setting_a_server_side_cursor_breaks_behind_pgbouncer(bouncer, tmp_path):
    imported = manage(IMPORT, bouncer, pgbouncer_setting=True, tmp_path=tmp_path)
    assert imported.returncode == 0, imported.stderr[-3000:]

    ran = manage(["shell", "-c", WORKLOAD], bouncer, pgbouncer_setting=False, tmp_path=tmp_path)
    assert ran.returncode != 0
    # The cursor, asked for on a server connection that never declared it:
    assert re.search(r"cursor \"_django_curs_\w+\" does not exist", ran.stderr), ran.stderr[-2000:]
    assert not Comment.objects.filter(body_md="Pooled per transaction.").exists()

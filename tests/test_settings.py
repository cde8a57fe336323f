"""The settings module under production-like environments, run in fresh interpreters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(args: list[str], env_overrides: dict[str, str], tmp_path: Path):
    # Whatever the suite's own environment says (test.sh exports REDIS_URL, DATABASE_URL…)
    # must not reach the fresh interpreter: each test states the whole environment it means.
    hidden = {
        "PYTEST_VERSION",
        "DEBUG",
        "SECRET_KEY",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "REDIS_URL",
        "TEST_REDIS_URL",
        "CELERY_BROKER_URL",
        "EMAIL_HOST",
        "ALLOWED_HOSTS",
        "SITE_URL",
    }
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **env_overrides})
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_refuses_to_start_without_secret_key_when_debug_is_off(tmp_path):
    result = run_manage(["check"], {"DEBUG": "false"}, tmp_path)

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_starts_without_secret_key_in_debug(tmp_path):
    result = run_manage(["check"], {"DEBUG": "true"}, tmp_path)

    assert result.returncode == 0, result.stderr


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7Gm2vQpL9sT4wZ8yB1nC6dF3hJ5kR0uE-aX_oI2pV7qW9eS4tY6uU8iO1pA3sD",
    "ALLOWED_HOSTS": "colloquy.example.com",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
    "EMAIL_HOST": "smtp.example.com",
}


@pytest.mark.parametrize(
    ("missing", "says"),
    [
        ("REDIS_URL", "colloquy.E001"),  # each web process would count rate limits alone
        ("EMAIL_HOST", "mail.E001"),  # mails would only be printed on the console
    ],
)
def test_deploy_check_refuses_a_production_setup_missing_a_shared_service(tmp_path, missing, says):
    production = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = run_manage(["check", "--deploy"], production, tmp_path)

    assert result.returncode != 0
    assert says in result.stderr + result.stdout


def test_deploy_check_is_clean_under_production_environment(tmp_path):
    production = {
        "DEBUG": "false",
        "SECRET_KEY": "x7Gm2vQpL9sT4wZ8yB1nC6dF3hJ5kR0uE-aX_oI2pV7qW9eS4tY6uU8iO1pA3sD",
        "ALLOWED_HOSTS": "colloquy.example.com",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/1",
        "EMAIL_HOST": "smtp.example.com",
    }
    result = run_manage(["check", "--deploy", "--fail-level", "WARNING"], production, tmp_path)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.django_db
def test_sqlite_connections_use_wal_immediate_and_a_busy_timeout(settings):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite-only settings")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_sqlite_file_database_switches_to_wal(tmp_path):
    script = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode'); print(c.fetchone()[0])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_VERSION"}
    env.update(
        DEBUG="true",
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.strip() == "wal", result.stderr


@pytest.mark.django_db
def test_signed_in_pages_are_private_to_shared_caches(client, reader, article):
    anonymous = client.get(article.get_absolute_url())
    client.force_login(reader)

    for url in (article.get_absolute_url(), "/notifications/", "/settings/profile/"):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "private" in response.headers.get("Cache-Control", ""), url
    assert "private" not in anonymous.headers.get("Cache-Control", "")


# --- Databases past one machine ---------------------------------------------------------------

PG_URL = "postgres://app:secret@db.internal:6432/colloquy"
PRINT_DATABASES = (
    "import json; from django.conf import settings; "
    "print(json.dumps({'databases': settings.DATABASES, "
    "'routers': settings.DATABASE_ROUTERS}, default=str))"
)


def databases_under(env: dict[str, str], tmp_path: Path) -> dict:
    import json

    result = run_manage(
        ["shell", "-c", PRINT_DATABASES], {"DEBUG": "true", "DATABASE_URL": PG_URL, **env}, tmp_path
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgres_connections_are_checked_before_reuse_and_time_out(tmp_path):
    found = databases_under({}, tmp_path)
    default = found["databases"]["default"]
    assert default["CONN_HEALTH_CHECKS"] is True
    assert default["CONN_MAX_AGE"] == 60
    assert default["OPTIONS"]["connect_timeout"] == 5
    assert "replica" not in found["databases"]
    assert found["routers"] == []
    assert (
        databases_under({"DATABASE_CONNECT_TIMEOUT": "2"}, tmp_path)["databases"]["default"][
            "OPTIONS"
        ]["connect_timeout"]
        == 2
    )


def test_pgbouncer_turns_off_what_outlives_a_transaction(tmp_path):
    default = databases_under({"PGBOUNCER": "true"}, tmp_path)["databases"]["default"]
    assert default["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert default["OPTIONS"]["prepare_threshold"] is None
    assert "pool" not in default["OPTIONS"]


def test_django_pool_replaces_persistent_connections(tmp_path):
    default = databases_under({"DATABASE_POOL": "8"}, tmp_path)["databases"]["default"]
    assert default["OPTIONS"]["pool"] == {"min_size": 0, "max_size": 8, "timeout": 10}
    assert default["CONN_MAX_AGE"] == 0


def test_pgbouncer_and_a_pool_together_are_refused(tmp_path):
    result = run_manage(
        ["check"],
        {"DEBUG": "true", "DATABASE_URL": PG_URL, "PGBOUNCER": "true", "DATABASE_POOL": "4"},
        tmp_path,
    )
    assert result.returncode != 0
    assert "PgBouncer is the pool; set one" in result.stderr


def test_a_replica_url_adds_the_replica_and_its_router(tmp_path):
    found = databases_under(
        {"DATABASE_REPLICA_URL": "postgres://app:secret@replica.internal:5432/colloquy"}, tmp_path
    )
    replica = found["databases"]["replica"]
    assert replica["HOST"] == "replica.internal"
    assert replica["TEST"]["MIRROR"] == "default"
    assert replica["CONN_HEALTH_CHECKS"] is True
    assert found["routers"] == ["config.replicas.PrimaryReplicaRouter"]

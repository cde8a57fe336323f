"""/healthz and /readyz: what a load balancer and an orchestrator's probes are told."""

from __future__ import annotations

import os
import socket
import time

import pytest
from django.db import OperationalError

from config import health
from tests.helpers import celery_broker


@pytest.fixture(autouse=True)
def _forget_migrated(monkeypatch):
    monkeypatch.setattr(health, "_migrated", False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.django_db
def test_liveness_answers_without_touching_anything(client, django_assert_num_queries, settings):
    # A probe reaches the pod by its IP (not in ALLOWED_HOSTS) in plain HTTP, with HTTPS on.
    settings.SECURE_SSL_REDIRECT = True
    with django_assert_num_queries(0):
        response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in response.headers


@pytest.mark.django_db
def test_readiness_checks_database_migrations_cache_and_broker(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/readyz", HTTP_HOST="10.1.2.3:8000")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {
            "database": "ok",
            "migrations": "ok",
            "replica": "not configured",
            "cache": "ok",
            "broker": "not configured",  # the suite runs tasks eagerly
        },
    }


@pytest.mark.django_db
def test_a_database_that_fails_is_named_without_its_error_message(client, monkeypatch):
    def refuse():
        raise OperationalError('connection to "db" failed: password=hunter2 authentication failed')

    monkeypatch.setattr(health, "CHECKS", {**health.CHECKS, "database": refuse})

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "failed: OperationalError"
    assert body["checks"]["migrations"] == "skipped: no database"
    assert body["checks"]["cache"] == "ok"
    assert "hunter2" not in response.text


@pytest.mark.django_db
def test_a_cache_that_is_down_is_reported_but_keeps_the_process_ready(client, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(health.cache, "set", down)

    response = client.get("/readyz")

    # Every process shares the cache and serves without it: not a reason to leave the pool.
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["cache"] == "failed: ConnectionError"
    assert response.json()["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_unapplied_migrations_make_the_process_not_ready(client, monkeypatch):
    monkeypatch.setattr(
        health.MigrationExecutor, "migration_plan", lambda self, targets: [("forum", False)] * 2
    )

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "failed: 2 migrations not applied"


@pytest.mark.django_db
def test_a_broker_that_does_not_answer_is_reported_quickly(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    with celery_broker(settings.CELERY_BROKER_URL):
        started = time.monotonic()
        response = client.get("/readyz")
        elapsed = time.monotonic() - started

    assert response.status_code == 200  # the outboxes hold what waits for the broker
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["broker"].startswith("failed: ")
    assert elapsed < 5  # one attempt, a short timeout: a probe isn't left hanging


@pytest.mark.django_db
def test_a_reachable_broker_is_ready(client, settings):
    broker = os.environ.get("TEST_REDIS_URL")
    if not broker:
        pytest.skip("needs TEST_REDIS_URL (make test sets it)")
    settings.CELERY_BROKER_URL = broker
    with celery_broker(broker):
        response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "ok"


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
@pytest.mark.django_db
def test_probes_answer_get_and_head_only(client, path):
    assert client.head(path).status_code == 200
    response = client.post(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
def test_probes_of_processes_writing_at_once_do_not_read_each_others_value(client, monkeypatch):
    # Another process's probe writes between this one's write and its read.
    real_set = health.cache.set

    def set_then_another_process_writes(key, value, *args, **kwargs):
        real_set(key, value, *args, **kwargs)
        real_set("health:probe", "another process", *args, **kwargs)
        real_set(key.replace(str(os.getpid()), str(os.getpid() + 1)), "another", *args, **kwargs)

    monkeypatch.setattr(health.cache, "set", set_then_another_process_writes)
    response = client.get("/readyz")
    assert response.json()["checks"]["cache"] == "ok"
    assert response.json()["status"] == "ok"

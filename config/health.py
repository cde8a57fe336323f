"""Health endpoints for load balancers and orchestrators: /healthz and /readyz.

- `/healthz` (liveness): the process answers. It touches nothing else, so a database outage
  never makes an orchestrator restart every web process.
- `/readyz` (readiness): this process can serve — the database answers and has every migration
  applied, the read replica answers (when there is one), the cache answers, and the Celery
  broker (when one is configured) accepts a connection. 200 with each check's result, or 503
  naming what failed, in JSON. The cache, the broker and the replica are shared by every process
  and the site works without them (the replica's reads go to the primary, config/replicas.py),
  so their failure answers 200 with `"status": "degraded"`, not 503.

They are answered by `HealthMiddleware`, first in the stack: before the host check (a probe
reaches a pod by its IP, which ALLOWED_HOSTS doesn't list), the HTTPS redirect (probes speak
plain HTTP inside the cluster), sessions and rate limits. Each dependency check has a short
timeout of its own, and what a failure says is the exception's class only: an error message can
hold a connection string with its password.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse

LIVE, READY = "/healthz", "/readyz"
BROKER_TIMEOUT = 1.0  # seconds: a broker that doesn't answer by then is down, for readiness


def _database() -> None:
    connection = connections[DEFAULT_DB_ALIAS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


_migrated = False


def _replica() -> str | None:
    if "replica" not in connections.settings:
        return "not configured"
    with connections["replica"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return None


def _migrations() -> None:
    # Read from the database until it is true, then never again: a running process's migrations
    # don't come undone (a deploy with new ones starts new processes).
    global _migrated
    if _migrated:
        return
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        raise PendingMigrations(f"{len(pending)} migrations not applied")
    _migrated = True


class PendingMigrations(Exception):
    pass


def _cache() -> None:
    # A key of this process and thread: with one key for all, two probes writing at once would
    # each read the other's value back and call a healthy cache failed.
    key = f"health:probe:{os.getpid()}:{threading.get_ident()}"
    value = str(time.monotonic_ns())
    cache.set(key, value, timeout=30)
    if cache.get(key) != value:
        raise CacheUnavailable("what was written could not be read back")


class CacheUnavailable(Exception):
    pass


def _broker() -> str | None:
    if not settings.CELERY_BROKER_URL:
        return "not configured"  # tasks run in-process (make run)
    from config.celery import bounded_connection

    with bounded_connection(BROKER_TIMEOUT) as connection:
        connection.ensure_connection(max_retries=0)  # one attempt, no retry loop
    return None


CHECKS: dict[str, Callable[[], str | None]] = {
    "database": _database,
    "migrations": _migrations,
    "replica": _replica,  # a read replica (DATABASE_REPLICA_URL), when there is one
    "cache": _cache,
    "broker": _broker,
}


# Shared services the site degrades without (config/cache.py: misses; the outboxes: emails and
# events wait for the broker; config/replicas.py: reads go to the primary). Their failure is
# reported, but the process stays ready: every web process shares them, so failing readiness
# would take every one out of the load balancer at once — the soak measured exactly that (a
# paused Redis: every request a 503 from the proxy) — for an outage the site rides out.
DEGRADABLE = frozenset({"cache", "broker", "replica"})


def readiness() -> tuple[bool, dict[str, str]]:
    results, ready = {}, True
    for name, check in CHECKS.items():
        if name == "migrations" and results.get("database") != "ok":
            results[name] = "skipped: no database"
            continue
        try:
            note = check()
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
            if name not in DEGRADABLE:
                ready = False
            results[name] = f"failed: {type(exc).__name__}"
            if isinstance(exc, PendingMigrations):
                results[name] = f"failed: {exc}"
        else:
            results[name] = note or "ok"
    return ready, results


def _json(status: int, body: dict) -> HttpResponse:
    response = HttpResponse(
        json.dumps(body), status=status, content_type="application/json; charset=utf-8"
    )
    response["Cache-Control"] = "no-store"
    return response


class HealthMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info in (LIVE, READY) and request.method not in ("GET", "HEAD"):
            response = _json(405, {"status": "method not allowed"})
            response["Allow"] = "GET, HEAD"
            return response
        if request.path_info == LIVE:
            return _json(200, {"status": "ok"})
        if request.path_info == READY:
            ready, checks = readiness()
            if not ready:
                return _json(503, {"status": "unavailable", "checks": checks})
            degraded = any(value.startswith("failed") for value in checks.values())
            return _json(200, {"status": "degraded" if degraded else "ok", "checks": checks})
        return self.get_response(request)

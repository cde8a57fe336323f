"""Reads from a PostgreSQL read replica, without a reader ever missing their own write.

Active only when DATABASE_REPLICA_URL is set (settings add the `replica` alias and this router).

Invariants:
- **Reads go to the replica only inside a request that allows it** (`ReplicaMiddleware`): a GET
  or HEAD from a browser that hasn't written in the last REPLICA_PIN_SECONDS. Everything else —
  POSTs, Celery tasks, management commands, the shell, migrations — reads the primary, because
  the context variable below defaults to "primary". A task enqueued on commit reads the row it
  was told about even when the replica lags.
- **A write pins the rest of the request to the primary** (`db_for_write` flips the variable),
  and reads inside a transaction on the primary stay there (`select_for_update`, the read half
  of a read-modify-write).
- **A request that wrote pins the browser for REPLICA_PIN_SECONDS** with a cookie, so the page
  the POST redirects to — served by whichever web machine — shows the reader their own comment.
  A cookie, not server state: it needs nothing shared between machines, and it is not a
  credential (it can only make a browser read the primary).
- **What is computed to be kept in the shared cache reads the primary** (`forum.caching.filling`):
  a rendering read from a lagging copy but keyed by a version held in the cache would keep old
  data under a new version.
- The replica is never migrated (`allow_migrate`): it is a copy of the primary, by streaming
  replication.
- **A replica that fails is skipped, not a failed page**: a GET answered 503 because the
  replica's connection failed is asked again of the primary (a GET/HEAD, so safe to repeat),
  and this process reads only the primary for REPLICA_RETRY_AFTER_SECONDS before trying the
  replica again. So a replica that is down costs each process one failed attempt (refused at
  once; an unreachable host costs the connect timeout) per interval, and readiness reports it
  as "degraded" rather than taking every web process out of the load balancer.
"""

from __future__ import annotations

import contextvars
import logging
import time

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from forum import caching

REPLICA = "replica"
COOKIE = "colloquy_primary"
REPLICA_RETRY_AFTER_SECONDS = 5.0

log = logging.getLogger(__name__)
_down_until = 0.0  # per process: until then, read the primary only

# True while this request may read from the replica. Default False: outside a request (tasks,
# commands), read the primary.
_replica_allowed: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "replica_allowed", default=False
)
# True once this request wrote (the router saw a write): it answers with the pin cookie.
_wrote: contextvars.ContextVar[bool] = contextvars.ContextVar("wrote", default=False)


def _active() -> bool:
    return REPLICA in connections.settings


class PrimaryReplicaRouter:
    def db_for_read(self, model, **hints):
        if (
            _replica_allowed.get()
            and not caching.is_filling()
            and not connections[DEFAULT_DB_ALIAS].in_atomic_block
        ):
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        _replica_allowed.set(False)
        _wrote.set(True)
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # one database, two copies of it

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


def _replica_failed() -> bool:
    # Django sets errors_occurred on a connection whose query or connect raised a database
    # error; it is cleared at the start and end of every request.
    return connections[REPLICA].errors_occurred


def _skip_the_replica() -> None:
    global _down_until
    _down_until = time.monotonic() + REPLICA_RETRY_AFTER_SECONDS
    log.warning(
        "read replica unavailable: reading the primary for %.0f s", REPLICA_RETRY_AFTER_SECONDS
    )
    connections[REPLICA].close()
    _replica_allowed.set(False)


class ReplicaMiddleware:
    """Decides, per request, whether its reads may go to the replica; sets the pin cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not _active():
            return self.get_response(request)
        safe = request.method in ("GET", "HEAD")
        may_read = safe and COOKIE not in request.COOKIES and time.monotonic() >= _down_until
        if may_read and connections[REPLICA].connection is None:
            # A failed connect leaves the flag set until the next connect: not this request's.
            connections[REPLICA].errors_occurred = False
        allowed = _replica_allowed.set(may_read)
        wrote = _wrote.set(False)
        try:
            response = self.get_response(request)
            if may_read and response.status_code == 503 and _replica_failed():
                _skip_the_replica()
                response = self.get_response(request)
            if _wrote.get() or not safe:
                response.set_cookie(
                    COOKIE,
                    "1",
                    max_age=settings.REPLICA_PIN_SECONDS,
                    httponly=True,
                    samesite="Lax",
                    secure=settings.SESSION_COOKIE_SECURE,
                )
        finally:
            _replica_allowed.reset(allowed)
            _wrote.reset(wrote)
        return response

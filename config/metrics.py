"""Prometheus metrics at /metrics, for every web process of the site at once.

Invariants:
- **Requests** are counted by `MetricsMiddleware` (second in the stack, so 4xx and 5xx answers
  of every layer below are counted) — all but the probes and /metrics itself. Labels are
  bounded: `view` is the URL pattern's name (`forum:article-detail`), "unmatched" when no pattern
  matched; never the path, which anyone can make up (one series per junk URL would grow
  Prometheus without end); `method` is one of the standard methods or "other".
- **Several processes, one answer**: under gunicorn, `PROMETHEUS_MULTIPROC_DIR` makes each
  worker write its samples to files in that directory and the scrape sums them
  (prometheus-client's multiprocess mode). The directory must be empty when the server starts
  and a dead worker's live gauges are dropped: `deploy/gunicorn.conf.py` does both. Without the
  variable (runserver, tests) the process's own registry answers.
- **State** (the outboxes' pending and failed rows, the broker queue's depth, running imports)
  is read when scraped, from the database and the broker, by a collector: right whichever
  process answers, and free between scrapes. A database that fails gives
  `colloquy_database_up 0` and the request metrics still answer; a broker that doesn't answer
  within a second gives `colloquy_broker_up 0`, not a hung scrape.
- **Access**: the page answers only with `Authorization: Bearer $METRICS_TOKEN` (compared in
  constant time); without METRICS_TOKEN it is off (404). It is answered before the host check,
  like the probes, because Prometheus scrapes pods by IP.
"""

from __future__ import annotations

import hmac
import os
import time

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector

PATH = "/metrics"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_UNCOUNTED = frozenset({PATH, "/healthz", "/readyz"})
BROKER_TIMEOUT = 1.0

REQUESTS = Counter(
    "colloquy_http_requests",
    "Requests answered, by URL pattern, method and status.",
    ["view", "method", "status"],
)
LATENCY = Histogram(
    "colloquy_http_request_duration_seconds",
    "Time to answer a request, by URL pattern.",
    ["view"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class StateCollector:
    """Gauges read at scrape time (see the invariants)."""

    def collect(self):
        up = GaugeMetricFamily(
            "colloquy_database_up", "Whether the database answered the scrape's state queries."
        )
        try:
            families = list(_database_state())
        except DatabaseError:
            # The request metrics still answer while the database is down: that is when
            # they are wanted most.
            up.add_metric([], 0)
            families = []
        else:
            up.add_metric([], 1)
        yield up
        yield from families
        yield from _broker()


def _database_state():
    from forum.enums import ImportStatus
    from forum.models import Event, ImportJob
    from notifications.enums import EmailState
    from notifications.models import OutgoingEmail

    emails = GaugeMetricFamily(
        "colloquy_email_outbox", "Outgoing emails by state (not yet sent).", labels=["state"]
    )
    for state in (
        EmailState.PENDING,
        EmailState.SENDING,
        EmailState.HANDING,
        EmailState.FAILED,
        EmailState.UNKNOWN,
    ):
        emails.add_metric([state.value], OutgoingEmail.objects.filter(state=state).count())
    yield emails
    yield GaugeMetricFamily(
        "colloquy_event_outbox_pending",
        "Forum events not dispatched to the apps yet.",
        value=Event.objects.filter(dispatched_at__isnull=True).count(),
    )
    running = ImportJob.objects.filter(status=ImportStatus.RUNNING)
    jobs = list(running.values_list("done", "total", "rows"))
    yield GaugeMetricFamily(
        "colloquy_imports_running", "Legacy imports running now.", value=len(jobs)
    )
    yield GaugeMetricFamily(
        "colloquy_import_files_left",
        "Files the running imports have still to go through.",
        value=sum(total - done for done, total, _ in jobs),
    )
    yield GaugeMetricFamily(
        "colloquy_import_rows",
        "Chapters and comments the running imports have gone through.",
        value=sum(rows for *_, rows in jobs),
    )


def _broker():
    if not settings.CELERY_BROKER_URL:
        return
    from config.celery import app, bounded_connection

    up = GaugeMetricFamily("colloquy_broker_up", "Whether the Celery broker answered the scrape.")
    depth = GaugeMetricFamily(
        "colloquy_queue_depth", "Tasks waiting in a Celery queue.", labels=["queue"]
    )
    queue = app.conf.task_default_queue
    try:
        with bounded_connection(BROKER_TIMEOUT) as connection:
            # The declare connects and asks: while the broker hangs, ~2 timeouts (measured ~2 s).
            declared = connection.default_channel.queue_declare(queue=queue, passive=True)
    except Exception:  # noqa: BLE001 - a broker down is a value of the gauge, not an error
        up.add_metric([], 0)
        yield up
        return
    up.add_metric([], 1)
    depth.add_metric([queue], declared.message_count)
    yield up
    yield depth


def exposition() -> bytes:
    registry = CollectorRegistry(auto_describe=True)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
        text = generate_latest(registry)
    else:
        text = generate_latest(REGISTRY)
    state = CollectorRegistry(auto_describe=True)
    state.register(StateCollector())
    return text + generate_latest(state)


def _allowed(request) -> bool | None:
    """None: metrics are off; else whether the request carries the token."""
    token = settings.METRICS_TOKEN
    if not token:
        return None
    given = request.headers.get("Authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def _plain(status: int, text: str) -> HttpResponse:
    response = HttpResponse(text, status=status, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def metrics_page(request) -> HttpResponse:
    allowed = _allowed(request)
    if allowed is None:
        return _plain(404, "Not found.\n")
    if request.method not in ("GET", "HEAD"):
        response = _plain(405, "Method not allowed.\n")
        response["Allow"] = "GET, HEAD"
        return response
    if not allowed:
        response = _plain(401, "A bearer token is needed.\n")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


class MetricsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info == PATH:
            return metrics_page(request)
        if request.path_info in _UNCOUNTED:
            return self.get_response(request)
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = match.view_name if match is not None else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        REQUESTS.labels(view, method, str(response.status_code)).inc()
        LATENCY.labels(view).observe(time.perf_counter() - started)
        return response

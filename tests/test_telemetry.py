"""Tracing and error reports: off (not even imported) by default; with their variables set,
spans reach an OTLP collector and errors reach a Sentry server, both fakes on loopback.

Each case runs the site in a fresh interpreter (tracing and Sentry patch process-wide state that
the suite's own process must not get), on a migrated SQLite file, with Django's test client.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import os
import threading
import zlib

import pytest

from .test_settings import run_manage

SECRET_BODY = "my-private-comment-text-7f3a"
EMAIL = "traced.reader@example.com"
SECRET_QUERY = "what-they-searched-for-91c2"


class Recorder(http.server.ThreadingHTTPServer):
    """Answers every POST with 200 and keeps (path, headers, body)."""

    def __init__(self):
        self.posts: list[tuple[str, dict, bytes]] = []

        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                recorder.posts.append((self.path, dict(self.headers), body))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def recorder():
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


# Production settings, but the suite's static files storage (no collectstatic per test).
BASE = {
    "DEBUG": "false",
    "SECRET_KEY": "x" * 50,
    "ALLOWED_HOSTS": "testserver",
    "HTTPS": "false",
    "PYTEST_VERSION": os.environ.get("PYTEST_VERSION", "9"),
}


def run_site(script: str, env: dict[str, str], tmp_path):
    """`script` in a fresh interpreter with the site set up on a migrated database."""
    migrated = run_manage(["migrate", "--noinput"], BASE | env, tmp_path)
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    result = run_manage(["shell", "-c", script], BASE | env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


# --- Off by default -------------------------------------------------------------------------

OFF = """
import sys
from django.conf import settings
names = ("opentelemetry", "sentry_sdk")
loaded = sorted({m.split(".")[0] for m in sys.modules if m.startswith(names)})
print("LOADED", loaded)
print("FIRST", settings.MIDDLEWARE[0])
"""


def test_without_their_variables_neither_is_imported(tmp_path):
    result = run_site(OFF, {"OTEL_EXPORTER_OTLP_ENDPOINT": "", "SENTRY_DSN": ""}, tmp_path)

    assert "LOADED []" in result.stdout
    assert "FIRST config.health.HealthMiddleware" in result.stdout


def test_otel_sdk_disabled_wins_over_an_endpoint(tmp_path):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "OTEL_SDK_DISABLED": "true"}
    result = run_site(OFF, env, tmp_path)

    assert "LOADED []" in result.stdout


# --- OpenTelemetry --------------------------------------------------------------------------

TRACED = """
import json
from celery.contrib.testing.worker import start_worker
from django.test import Client
from django.urls import reverse
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from config.celery import app
from forum.models import Comment
from tests.factories import ArticleFactory, UserFactory

memory = InMemorySpanExporter()
provider = trace.get_tracer_provider()
provider.add_span_processor(SimpleSpanProcessor(memory))

article = ArticleFactory()
author = article.column.author
reader = UserFactory(email=%(email)r)
page = reverse("forum:article-detail", args=[article.column.slug, article.slug])
client = Client()
for probe in ("/healthz", "/readyz"):
    assert client.get(probe).status_code == 200
memory.clear()  # the set-up's own queries

out = {}
response = client.get(page)
out["get"] = {"status": response.status_code, "request_id": response["X-Request-ID"]}

client.force_login(reader)
with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
    response = client.post(
        reverse("forum:comment-create", args=[article.column.slug, article.slug]),
        {"body": %(body)r},
    )
    out["post"] = {"status": response.status_code, "request_id": response["X-Request-ID"]}
    out["comments"] = Comment.objects.count()
    import time
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(
        s.name.startswith("run/") for s in memory.get_finished_spans()
    ):
        time.sleep(0.1)

def plain(span):
    return {
        "name": span.name,
        "kind": span.kind.name,
        "trace": format(span.context.trace_id, "032x"),
        "id": format(span.context.span_id, "016x"),
        "parent": format(span.parent.span_id, "016x") if span.parent else None,
        "attributes": {k: v if isinstance(v, (str, int, float, bool)) else list(v)
                       for k, v in span.attributes.items()},
    }

out["spans"] = [plain(s) for s in memory.get_finished_spans()]
provider.force_flush()
print("RESULT " + json.dumps(out))
"""


def _result(stdout: str) -> dict:
    line = next(line for line in stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def test_requests_queries_and_tasks_are_one_trace_at_the_collector(tmp_path):
    with recorder() as collector:
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
            "OTEL_SERVICE_NAME": "colloquy-under-test",
            "CELERY_BROKER_URL": "memory://",
        }
        out = _result(
            run_site(TRACED % {"email": EMAIL, "body": SECRET_BODY}, env, tmp_path).stdout
        )
        exported = list(collector.posts)

    spans = out["spans"]
    servers = [s for s in spans if s["kind"] == "SERVER"]
    get, post = servers[0], servers[1]
    # A span per request, named by method and pattern, carrying the request's id.
    assert [s["name"] for s in servers] == [
        "GET columns/<str:column_slug>/<str:slug>/",
        "POST columns/<str:column_slug>/<str:slug>/comments/",
    ]
    assert out["get"]["status"] == 200 and out["post"]["status"] == 302
    assert get["attributes"]["http.status_code"] == 200
    assert get["attributes"]["colloquy.request_id"] == out["get"]["request_id"]
    assert post["attributes"]["colloquy.request_id"] == out["post"]["request_id"]
    assert out["comments"] == 1

    # The page's queries are spans inside its request, with placeholders and no values.
    queries = [s for s in spans if s["attributes"].get("db.system.name") == "sqlite"]
    in_get = [q for q in queries if q["trace"] == get["trace"]]
    assert len(in_get) >= 3
    assert {q["name"] for q in in_get} == {"SELECT"}
    assert all(q["parent"] is not None for q in in_get)
    inserts = [q for q in queries if q["trace"] == post["trace"] and q["name"] == "INSERT"]
    assert any('INSERT INTO "forum_comment"' in q["attributes"]["db.query.text"] for q in inserts)

    # The task the comment enqueued ran in the worker under the request's trace: the message
    # carried it (the worker's thread has no context of its own).
    in_post = [s for s in spans if s["trace"] == post["trace"]]
    published = [s for s in in_post if s["name"].startswith("apply_async/")]
    ran = [s for s in in_post if s["name"].startswith("run/")]
    assert [s["name"] for s in published] == ["apply_async/forum.dispatch_event"]
    assert [s["name"] for s in ran] == ["run/forum.dispatch_event"]
    assert (published[0]["kind"], ran[0]["kind"]) == ("PRODUCER", "CONSUMER")
    assert ran[0]["parent"] == published[0]["id"]

    # Probes make no spans; nothing anyone typed is in any span.
    assert not any("healthz" in s["name"] or "readyz" in s["name"] for s in spans)
    everything = json.dumps(spans)
    assert SECRET_BODY not in everything and EMAIL not in everything

    # The same spans went to the collector over OTLP/HTTP, under the service's name.
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    names, services = set(), set()
    for path, headers, body in exported:
        assert path == "/v1/traces"
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        message = ExportTraceServiceRequest.FromString(body)
        for resource_spans in message.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope in resource_spans.scope_spans:
                names.update(span.name for span in scope.spans)
    assert services == {"colloquy-under-test"}
    assert {get["name"], post["name"], ran[0]["name"]} <= names
    assert SECRET_BODY.encode() not in b"".join(body for _, _, body in exported)


LOGGED = """
import logging
from opentelemetry import trace
tracer = trace.get_tracer("test")
with tracer.start_as_current_span("work") as span:
    logging.getLogger("colloquy.test").warning("inside")
    print("TRACE", format(span.get_span_context().trace_id, "032x"))
logging.getLogger("colloquy.test").warning("outside")
"""


def test_json_log_lines_inside_a_span_carry_its_trace_id(tmp_path):
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9", "LOG_FORMAT": "json"}
    env["OTEL_BSP_EXPORT_TIMEOUT"] = "100"  # nothing listens there: don't wait at exit
    result = run_site(LOGGED, env, tmp_path)

    trace_id = next(
        line.split()[1] for line in result.stdout.splitlines() if line.startswith("TRACE")
    )
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    inside = next(line for line in lines if line["message"] == "inside")
    outside = next(line for line in lines if line["message"] == "outside")
    assert inside["trace_id"] == trace_id
    assert "trace_id" not in outside


# --- Sentry ---------------------------------------------------------------------------------

# Through the WSGI handler gunicorn calls (Sentry takes the URL and headers there), served on
# loopback; the private values come in the environment, not the script (Sentry reports argv).
FAILING = """
import json
import os
import sys
import threading
import types
import urllib.error
import urllib.parse
import urllib.request
from wsgiref.simple_server import WSGIRequestHandler, make_server

import sentry_sdk
from django.test import Client, override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

import config.urls
from config.wsgi import application
from tests.factories import UserFactory


@csrf_exempt
def boom(request):
    raise RuntimeError("kaput <script>")


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


urls = sys.modules["boom_urls"] = types.ModuleType("boom_urls")
urls.urlpatterns = [path("boom/", boom), *config.urls.urlpatterns]
signed_in = Client()
signed_in.force_login(UserFactory(email=os.environ["PROBE_EMAIL"]))
session = signed_in.cookies["sessionid"].value
server = make_server("127.0.0.1", 0, application, handler_class=Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
query = urllib.parse.urlencode({"q": os.environ["PROBE_QUERY"]})
request = urllib.request.Request(
    f"http://127.0.0.1:{server.server_port}/boom/?{query}",
    data=urllib.parse.urlencode({"body": os.environ["PROBE_BODY"]}).encode(),
    headers={"Cookie": f"sessionid={session}", "X-Forwarded-For": os.environ["PROBE_IP"]},
)
with override_settings(ROOT_URLCONF="boom_urls"):
    try:
        urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        status, request_id, page = error.code, error.headers["X-Request-ID"], error.read()
sentry_sdk.flush(timeout=10)
server.shutdown()
print("RESULT " + json.dumps(
    {"status": status, "request_id": request_id, "page": page.decode(), "session": session}
))
"""


def _envelope_items(body: bytes, headers: dict) -> list[dict]:
    encoding = headers.get("Content-Encoding", "")
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "deflate":
        body = zlib.decompress(body)
    elif encoding == "br":
        pytest.fail("a brotli envelope: install nothing, send gzip")
    lines = body.split(b"\n")
    items = []
    for header, payload in zip(lines[1::2], lines[2::2], strict=False):
        kind = json.loads(header).get("type")
        items.append({"type": kind, "payload": json.loads(payload) if payload else None})
    return items


def test_an_unhandled_error_reaches_sentry_without_who_or_what_they_typed(tmp_path):
    with recorder() as sentry:
        host = sentry.url.removeprefix("http://")
        env = {
            "SENTRY_DSN": f"http://publickey@{host}/42",
            "SENTRY_ENVIRONMENT": "rehearsal",
            "SENTRY_RELEASE": "colloquy@test",
            "ALLOWED_HOSTS": "testserver,127.0.0.1",
            "PROBE_EMAIL": EMAIL,
            "PROBE_BODY": SECRET_BODY,
            "PROBE_QUERY": SECRET_QUERY,
            "PROBE_IP": "203.0.113.77",
        }
        out = _result(run_site(FAILING, env, tmp_path).stdout)
        posts = list(sentry.posts)

    assert out["status"] == 500
    assert "kaput" not in out["page"]  # the reader sees the site's error page, not the error
    assert posts and all(path == "/api/42/envelope/" for path, _, _ in posts)
    events = [
        item["payload"]
        for _, headers, body in posts
        for item in _envelope_items(body, headers)
        if item["type"] == "event"
    ]
    assert len(events) == 1
    event = events[0]
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["exception"]["values"][-1]["value"] == "kaput <script>"
    assert event["tags"]["request_id"] == out["request_id"]
    assert event["environment"] == "rehearsal"
    assert event["release"] == "colloquy@test"
    assert event["request"]["url"].endswith("/boom/")  # no query string
    assert event["request"]["method"] == "POST"
    assert event["request"]["headers"]["User-Agent"].startswith("Python-urllib/")
    assert event["request"]["headers"]["Cookie"] == "[Filtered]"
    assert event["request"]["headers"]["X-Forwarded-For"] == "[Filtered]"
    assert "data" not in event["request"] and "cookies" not in event["request"]
    raw = b"".join(
        gzip.decompress(b) if h.get("Content-Encoding") == "gzip" else b for _, h, b in posts
    )
    for private in (EMAIL, SECRET_BODY, SECRET_QUERY, out["session"], "203.0.113.77"):
        assert private.encode() not in raw
    assert "user" not in event

"""/metrics: who may read it, what it counts, and the same total from several gunicorn workers."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.core import mail  # noqa: F401 - the locmem outbox, reset per test
from django.urls import reverse

from forum.enums import ImportStatus
from forum.models import Event, ImportJob
from notifications.models import OutgoingEmail
from tests.helpers import celery_broker, free_port

from .test_settings import ROOT

TOKEN = "s3cret-metrics-token"
AUTH = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture
def metrics_on(settings):
    settings.METRICS_TOKEN = TOKEN


def sample(text: str, name: str, **labels) -> float | None:
    """The value of one series in an exposition, or None when it isn't there."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, _, value = line.rpartition(" ")
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', series))
        if series.split("{")[0] == name and found == {k: str(v) for k, v in labels.items()}:
            return float(value)
    return None


def scrape(client) -> str:
    response = client.get("/metrics", **AUTH)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"
    return response.content.decode()


# --- Access ---------------------------------------------------------------------------------


def test_metrics_are_off_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 404
    assert "colloquy_" not in response.content.decode()


@pytest.mark.parametrize(
    "header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", f"bearer {TOKEN}"]
)
def test_metrics_need_the_bearer_token(client, metrics_on, header):
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "colloquy_" not in response.content.decode()


def test_metrics_answer_get_only(client, metrics_on):
    response = client.post("/metrics", **AUTH)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.django_db
def test_metrics_answer_a_probe_by_ip_over_plain_http(client, metrics_on, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/metrics", HTTP_HOST="10.1.2.3:8000", **AUTH)
    assert response.status_code == 200


# --- What is counted -------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_are_counted_by_pattern_method_and_status(client, metrics_on, article):
    before = scrape(client)
    url = article.get_absolute_url()
    for _ in range(3):
        assert client.get(url).status_code == 200
    assert client.get(reverse("forum:column-detail", args=["no-such-column"])).status_code == 404
    after = scrape(client)

    def moved(**labels):
        name = "colloquy_http_requests_total"
        return (sample(after, name, **labels) or 0) - (sample(before, name, **labels) or 0)

    assert moved(view="forum:article-detail", method="GET", status="200") == 3
    assert moved(view="forum:column-detail", method="GET", status="404") == 1
    count = "colloquy_http_request_duration_seconds_count"
    assert (sample(after, count, view="forum:article-detail") or 0) - (
        sample(before, count, view="forum:article-detail") or 0
    ) == 3
    # The probes and the scrapes themselves are not counted.
    assert 'view="unmatched",method="GET",status="200"' not in after


@pytest.mark.django_db
def test_made_up_paths_make_no_series_of_their_own(client, metrics_on):
    before = scrape(client)
    hostile = ["/<script>alert(1)</script>", "/x" * 50, '/"}{evil="1']
    for path in hostile:
        assert client.get(path).status_code == 404
    assert client.generic("BREW", "/coffee/").status_code in (404, 405)
    after = scrape(client)
    name = "colloquy_http_requests_total"
    unmatched = sample(after, name, view="unmatched", method="GET", status="404") or 0
    earlier = sample(before, name, view="unmatched", method="GET", status="404") or 0
    assert unmatched - earlier == len(hostile)
    assert sample(after, name, view="unmatched", method="other", status="404") is not None
    for text in ("<script>", "alert(1)", "evil", "/x/x", "BREW", "coffee"):
        assert text not in after


@pytest.mark.django_db
def test_outbox_and_import_state_are_read_at_scrape_time(client, metrics_on, reader, tmp_path):
    OutgoingEmail.objects.create(to="a@example.com", subject="s", body_text="b")
    OutgoingEmail.objects.create(to="b@example.com", subject="s", body_text="b", state="failed")
    OutgoingEmail.objects.create(to="c@example.com", subject="s", body_text="b", state="sent")
    Event.objects.create(kind="comment_posted")
    ImportJob.objects.create(
        upload="imports/x.zip", status=ImportStatus.RUNNING, done=3, total=10, rows=1234
    )
    ImportJob.objects.create(upload="imports/y.zip", status=ImportStatus.DONE, done=5, total=5)

    text = scrape(client)

    assert sample(text, "colloquy_email_outbox", state="pending") == 1
    assert sample(text, "colloquy_email_outbox", state="failed") == 1
    assert sample(text, "colloquy_email_outbox", state="sending") == 0
    assert sample(text, "colloquy_event_outbox_pending") == 1
    assert sample(text, "colloquy_imports_running") == 1
    assert sample(text, "colloquy_import_files_left") == 7
    assert sample(text, "colloquy_import_rows") == 1234
    assert sample(text, "colloquy_database_up") == 1
    assert sample(text, "colloquy_broker_up") is None  # no broker: tasks run in-process


@pytest.mark.django_db
def test_a_broker_that_does_not_answer_is_a_zero_not_a_hung_scrape(client, metrics_on, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{free_port()}/0"
    with celery_broker(settings.CELERY_BROKER_URL):
        started = time.monotonic()
        text = scrape(client)
    assert time.monotonic() - started < 3
    assert sample(text, "colloquy_broker_up") == 0


@pytest.mark.integration
@pytest.mark.django_db
def test_queue_depth_counts_the_tasks_waiting_in_the_broker(client, metrics_on, settings):
    broker = os.environ.get("TEST_REDIS_URL")
    if not broker:
        pytest.skip("needs TEST_REDIS_URL")
    settings.CELERY_BROKER_URL = broker
    with celery_broker(broker) as app:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(app.conf.task_default_queue)
        for _ in range(3):
            app.send_task("forum.tasks.sweep_events")  # no worker runs: they wait
        text = scrape(client)
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(app.conf.task_default_queue)
    assert sample(text, "colloquy_broker_up") == 1
    assert sample(text, "colloquy_queue_depth", queue="celery") == 3


# --- Several gunicorn workers ----------------------------------------------------------------


def _get(url: str, token: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)  # noqa: S310 - http://127.0.0.1 only
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_two_gunicorn_workers_report_one_total(tmp_path):
    """The deploy's gunicorn settings: every worker's requests are in every worker's scrape,
    those of workers that have exited too (each is recycled after 10 requests here)."""
    port = free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    (multiproc / "stale_counter_999.db").write_bytes(b"left by an earlier run")
    hidden = {"PYTEST_VERSION", "REDIS_URL", "TEST_REDIS_URL", "CELERY_BROKER_URL"}
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    env.update(
        DEBUG="false",
        SECRET_KEY="x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        HTTPS="false",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        METRICS_TOKEN=TOKEN,
        PROMETHEUS_MULTIPROC_DIR=str(multiproc),
        WEB_CONCURRENCY="2",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_MAX_REQUESTS="10",
        STATIC_ROOT=str(tmp_path / "static"),
    )
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert collected.returncode == 0, collected.stderr
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "config.wsgi"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if _get(f"{base}/healthz")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        assert not (multiproc / "stale_counter_999.db").exists()  # emptied at start
        for _ in range(40):
            assert _get(f"{base}/no-such-page/")[0] == 404
        # Each worker wrote its own file (at least four served the 40, 10 at most each); every
        # scrape, whichever worker answers, sums them all.
        assert len(list(multiproc.glob("counter_*.db"))) >= 4
        for _ in range(4):
            status, text = _get(f"{base}/metrics", TOKEN)
            assert status == 200
            name = "colloquy_http_requests_total"
            assert sample(text, name, view="unmatched", method="GET", status="404") == 40
            # This database has no tables: the state can't be read, the requests still can.
            assert sample(text, "colloquy_database_up") == 0
        assert _get(f"{base}/metrics")[0] == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()

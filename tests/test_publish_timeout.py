"""A broker that hangs costs a write half a second, not a hung request (found under load: with
the broker's Redis stopped by SIGSTOP every sync worker stalled in the publish after its
commit, the readiness checks timed out and the proxy answered 503 to everyone).

Against a real Redis on loopback, paused with SIGSTOP like the fault."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
import redis
from django.urls import reverse
from kombu.exceptions import OperationalError

import config.celery as celery_module
from config.celery import PUBLISH_RETRY_AFTER_SECONDS, PUBLISH_TIMEOUT_SECONDS, QuickToPublish, app
from forum.models import Comment, Event
from forum.tasks import sweep_events
from tests.helpers import celery_broker
from tests.servers import redis_server

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def paused(port: int):
    pid = redis.Redis(port=port).info("server")["process_id"]
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@pytest.fixture
def broker(monkeypatch):
    monkeypatch.setattr(celery_module, "_down_until", {})  # no earlier test's outage
    with redis_server() as port:
        with celery_broker(f"redis://127.0.0.1:{port}/1"):
            yield redis.Redis(port=port, db=1)


def test_a_comment_posted_while_the_broker_hangs_is_saved_at_once_and_sent_later(
    reader_client, article, broker, django_capture_on_commit_callbacks, caplog
):
    url = reverse("forum:comment-create", args=[article.column.slug, article.slug])
    with paused(broker.connection_pool.connection_kwargs["port"]):
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, "forum.events"):
            with django_capture_on_commit_callbacks(execute=True):
                response = reader_client.post(url, {"body": "Saved while the broker hangs"})
        took = time.monotonic() - started

        # Until the broker has had time to come back, the next publish fails at once.
        started = time.monotonic()
        with pytest.raises(OperationalError):
            app.tasks["forum.dispatch_event"].delay(0)
        assert time.monotonic() - started < 0.05

    assert response.status_code == 302
    comment = Comment.objects.get(body_md="Saved while the broker hangs")
    assert took < PUBLISH_TIMEOUT_SECONDS + 0.5, f"the request took {took:.2f} s"
    event = Event.objects.get(comment=comment)
    assert event.dispatched_at is None
    assert f"could not enqueue event {event.pk}" in caplog.text
    assert broker.llen("celery") == 0

    # Once the broker is back (and the pause is over), the sweeper sends what the request
    # couldn't.
    Event.objects.update(created_at=event.created_at - timedelta(hours=1))
    time.sleep(PUBLISH_RETRY_AFTER_SECONDS)
    sweep_events()
    assert broker.llen("celery") == Event.objects.filter(dispatched_at=None).count() == 2


def test_without_the_bound_the_same_publish_hangs_for_as_long_as_the_broker(broker, article):
    """The control: Celery's own publish (its pooled producer, with retries) waits it out."""
    task = app.tasks["forum.dispatch_event"]
    port = broker.connection_pool.connection_kwargs["port"]
    task.delay(0)  # a connection in Celery's pool, as in a worker that has published before
    assert broker.llen("celery") == 1
    done = threading.Event()

    def publish():
        super(QuickToPublish, task).apply_async((0,))
        done.set()

    with paused(port):
        thread = threading.Thread(target=publish, daemon=True)
        thread.start()
        assert not done.wait(3), "Celery's own publish returned while the broker was paused"
    assert done.wait(30)
    assert broker.llen("celery") == 2


# --- Probes and scrapes while the broker hangs ----------------------------------------------
# Found by bench/soak.py: a paused Redis still accepts TCP connections (the kernel does), so a
# readiness check with only a connect timeout waited for its first answer forever; the proxy
# timed both web instances' checks out, marked them down, and answered 503 to everyone until
# they had passed twice after the pause.


@pytest.mark.django_db
def test_readiness_answers_within_its_budget_while_the_broker_hangs(client, settings, broker):
    settings.CELERY_BROKER_URL = celery_module.app.conf.broker_url
    with paused(broker.connection_pool.connection_kwargs["port"]):
        started = time.monotonic()
        response = client.get("/readyz")
        took = time.monotonic() - started

    assert took < 2.0, f"readiness took {took:.2f} s"
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["broker"] == "failed: OperationalError"


@pytest.mark.django_db
def test_a_scrape_answers_within_its_budget_while_the_broker_hangs(client, settings, broker):
    settings.CELERY_BROKER_URL = celery_module.app.conf.broker_url
    settings.METRICS_TOKEN = "t0ken"
    with paused(broker.connection_pool.connection_kwargs["port"]):
        started = time.monotonic()
        response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken")
        took = time.monotonic() - started

    assert took < 3.0, f"the scrape took {took:.2f} s"  # Prometheus waits 10 s by default
    assert response.status_code == 200
    assert "colloquy_broker_up 0.0" in response.content.decode()

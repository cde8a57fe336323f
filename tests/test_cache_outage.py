"""A Redis that is down or hangs costs a short timeout, then behaves as a miss (config/cache.py).

Run against a port where nothing listens (refused at once) and against a server that accepts
connections and never answers (each command would wait for its read timeout).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from config import cache as redis_cache
from forum.models import Comment
from tests.factories import CommentFactory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def silent_redis():
    """A server that accepts connections and never says a word."""
    server = socket.create_server(("127.0.0.1", 0))
    held, stop = [], threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _redis_cache(settings, url: str) -> None:
    settings.CACHES = {"default": {"BACKEND": "config.cache.RedisCache", "LOCATION": url}}


def test_a_silent_redis_costs_one_short_timeout_then_misses_at_once(settings, silent_redis):
    _redis_cache(settings, silent_redis)

    started = time.monotonic()
    assert cache.get("anything") is None
    first = time.monotonic() - started
    started = time.monotonic()
    for n in range(50):
        assert cache.get(f"k{n}", "default") == "default"
        cache.set(f"k{n}", n)
        assert cache.get_many([f"k{n}"]) == {}
        assert cache.add(f"k{n}", n) is False
        assert cache.incr(f"k{n}") == 1  # a first hit: rate limits fail open
    after = time.monotonic() - started

    assert redis_cache.TIMEOUT_SECONDS <= first < 1.0  # the read timeout, once
    assert after < 0.2  # 250 calls, none of them waiting on the server


def test_the_cache_is_tried_again_after_a_pause(settings, silent_redis, monkeypatch):
    _redis_cache(settings, silent_redis)
    cache.get("x")  # fails: the cache is "down"
    calls = []
    original = redis_cache.RedisCacheClient.get

    def counting(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis_cache.RedisCacheClient, "get", counting)
    cache.get("y")
    assert calls == []  # still within the pause
    now = time.monotonic()
    monkeypatch.setattr(redis_cache.time, "monotonic", lambda: now + 3)
    cache.get("z")
    assert calls == [1]  # tried again


@pytest.mark.django_db
def test_the_site_serves_and_takes_comments_with_redis_down(
    settings, client, reader, article, django_capture_on_commit_callbacks
):
    _redis_cache(settings, f"redis://127.0.0.1:{_free_port()}/0")
    CommentFactory(article=article, body="Still here while the cache is down")

    page = client.get(article.get_absolute_url())
    assert page.status_code == 200
    assert "Still here while the cache is down" in page.text
    assert client.get("/").status_code == 200

    client.force_login(reader)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("forum:comment-create", args=[article.column.slug, article.slug]),
            {"body": "Posted with the cache down"},
        )
    assert response.status_code == 302
    assert Comment.objects.filter(body_md="Posted with the cache down", author=reader).exists()
    assert "Posted with the cache down" in client.get(article.get_absolute_url()).text

    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert ready.json()["checks"]["cache"] == "failed: CacheUnavailable"

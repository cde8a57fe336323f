"""Reads from a real streaming replica, and a reader who always sees their own write.

A hot standby of the suite's PostgreSQL (`pg_basebackup -R`) is the replica; pausing its WAL
replay makes it lag on demand, so each test can tell a read served by the replica (the old
state) from one served by the primary (the new state).
"""

from __future__ import annotations

import logging
import time

import pytest
from django.db import OperationalError, connections, transaction
from django.test import Client
from django.urls import reverse

from config import replicas
from forum import selectors
from forum.models import Comment
from tests.factories import ArticleFactory, ColumnFactory, CommentFactory, UserFactory
from tests.helpers import free_port
from tests.servers import pg_bin, pg_standby, set_replay, wait_for_replay

pytestmark = [
    pytest.mark.postgres,
    # The replica is a test mirror of the primary: never flushed, only read.
    pytest.mark.django_db(transaction=True, databases=["default", replicas.REPLICA]),
    pytest.mark.skipif(pg_bin() is None, reason="needs the PostgreSQL server binaries"),
]

BODY = "Replicas lag; the reader must not notice."


@pytest.fixture(scope="module")
def standby(django_db_setup, django_db_blocker):
    """The standby, and the `replica` alias on it (registered before each test's database
    fixture checks the aliases it names)."""
    primary = connections["default"].settings_dict
    if primary["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL")
    with pg_standby(primary) as port:
        connections.settings[replicas.REPLICA] = dict(
            primary, PORT=port, TEST={**primary["TEST"], "MIRROR": "default"}
        )
        try:
            yield port
        finally:
            connections[replicas.REPLICA].close()
            del connections[replicas.REPLICA]
            del connections.settings[replicas.REPLICA]


@pytest.fixture
def replica(standby, settings):
    """The router on, replay running; returns the controls of the replica's lag."""
    primary = connections["default"].settings_dict
    settings.DATABASE_ROUTERS = ["config.replicas.PrimaryReplicaRouter"]

    class Controls:
        def catch_up(self):
            wait_for_replay(primary, standby)

        def lag(self):
            set_replay(primary, standby, paused=True)

        def resume(self):
            set_replay(primary, standby, paused=False)
            self.catch_up()

    try:
        yield Controls()
    finally:
        set_replay(primary, standby, paused=False)


@pytest.fixture
def chapter(replica):
    author = UserFactory(display_name="column_author")
    column = ColumnFactory(author=author, title="Deep Kubernetes", slug="deep-k8s")
    article = ArticleFactory(column=column, title="Why Pods?", slug="why-pods", position=1)
    replica.catch_up()
    return article


def page(client, article) -> str:
    response = client.get(article.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def test_anonymous_reads_come_from_the_replica(replica, chapter):
    replica.lag()
    comment = CommentFactory(article=chapter, body="Posted while the replica lags.")
    # A comment's link looks the comment up on the replica, which hasn't it yet.
    assert Client().get(reverse("forum:comment-permalink", args=[comment.pk])).status_code == 404
    replica.resume()
    found = Client().get(reverse("forum:comment-permalink", args=[comment.pk]))
    assert found.status_code == 302
    assert found.url.startswith(chapter.get_absolute_url())


def test_what_is_cached_is_read_from_the_primary_while_the_replica_lags(replica, chapter):
    commenter = UserFactory(display_name="Old Name")
    CommentFactory(article=chapter, author=commenter, body="A comment to show a name.")
    replica.catch_up()
    replica.lag()
    commenter.display_name = "New Name"
    commenter.save()  # moves the people version, held in the cache
    ArticleFactory(column=chapter.column, title="Written after the lag", slug="later")
    # The renderings kept under the new versions are read from the primary: had they been
    # read from the lagging replica, the old name would stay cached after it caught up.
    article_page = page(Client(), chapter)
    assert "New Name" in article_page
    assert "Old Name" not in article_page
    assert "Written after the lag" in Client().get("/columns/deep-k8s/").content.decode()
    replica.resume()
    assert "New Name" in page(Client(), chapter)
    assert "Written after the lag" in Client().get("/columns/deep-k8s/").content.decode()


def test_a_reader_sees_their_own_comment_while_the_replica_lags(replica, chapter):
    writer = UserFactory(display_name="writer")
    replica.catch_up()
    replica.lag()
    client = Client()
    client.force_login(writer)
    response = client.post(
        reverse("forum:comment-create", args=["deep-k8s", "why-pods"]), {"body": BODY}
    )
    assert response.status_code == 302
    assert Comment.objects.filter(body_md=BODY).count() == 1
    pin = response.cookies[replicas.COOKIE]
    assert pin["max-age"] == 10
    assert pin["httponly"]

    # The page the POST redirects to, on any web machine: the primary, with the comment.
    assert BODY in page(client, chapter)
    comment = Comment.objects.get(body_md=BODY)
    link = reverse("forum:comment-permalink", args=[comment.pk])
    assert client.get(link).status_code == 302  # found: read on the primary
    # Someone else reads the replica, which hasn't the comment yet...
    assert Client().get(link).status_code == 404
    # ...and so would the writer without the pin (proof that the cookie is what pins).
    client.cookies.pop(replicas.COOKIE)
    assert client.get(link).status_code == 404

    replica.resume()
    assert Client().get(link).status_code == 302
    assert BODY in page(Client(), chapter)


def test_reads_outside_a_request_and_inside_a_transaction_use_the_primary(replica, chapter):
    replica.lag()
    ArticleFactory(column=chapter.column, title="Fresh", slug="fresh")
    router = replicas.PrimaryReplicaRouter()
    # A Celery task or a command: no request allowed the replica, so the primary answers.
    assert router.db_for_read(Comment) == "default"
    assert chapter.column.articles.filter(slug="fresh").exists()

    token = replicas._replica_allowed.set(True)  # what a GET without the pin gets
    try:
        assert router.db_for_read(Comment) == "replica"
        assert not chapter.column.articles.filter(slug="fresh").exists()  # the lagging copy
        with transaction.atomic():  # a read-modify-write reads what it will write over
            assert router.db_for_read(Comment) == "default"
            assert chapter.column.articles.filter(slug="fresh").exists()
        router.db_for_write(Comment)  # a write pins the rest of the request
        assert router.db_for_read(Comment) == "default"
    finally:
        replicas._replica_allowed.reset(token)


def test_a_get_that_writes_pins_the_browser_and_one_that_reads_does_not(replica, chapter):
    reader = UserFactory(display_name="reader")
    replica.catch_up()
    client = Client()
    client.force_login(reader)
    client.cookies.pop(replicas.COOKIE, None)
    read_only = client.get(chapter.get_absolute_url())
    assert read_only.status_code == 200
    assert replicas.COOKIE not in read_only.cookies
    # Signing out is a POST: it writes (the session) and pins.
    assert replicas.COOKIE in client.post(reverse("account_logout")).cookies


def test_the_replica_is_never_migrated(replica):
    router = replicas.PrimaryReplicaRouter()
    assert router.allow_migrate("default", "forum")
    assert not router.allow_migrate("replica", "forum")


@pytest.fixture
def replica_down(replica, monkeypatch):
    """The replica alias pointed at a port nothing listens on; this process's memory of an
    earlier failure forgotten."""
    monkeypatch.setattr(replicas, "_down_until", 0.0)
    connections[replicas.REPLICA].close()
    monkeypatch.setitem(connections[replicas.REPLICA].settings_dict, "PORT", free_port())
    yield
    connections[replicas.REPLICA].close()


def test_readiness_names_the_replica(replica, monkeypatch):
    assert Client().get("/readyz").json()["checks"]["replica"] == "ok"
    connections[replicas.REPLICA].close()
    monkeypatch.setitem(connections[replicas.REPLICA].settings_dict, "PORT", free_port())
    response = Client().get("/readyz")
    # Named, but the process stays in the load balancer: its reads can go to the primary.
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["checks"]["replica"] == "failed: OperationalError"
    connections[replicas.REPLICA].close()


def test_a_replica_that_is_down_costs_readers_nothing(replica_down, chapter, monkeypatch, caplog):
    comment = CommentFactory(article=chapter, body=BODY)
    link = reverse("forum:comment-permalink", args=[comment.pk])  # read from the replica
    tried = []
    connect = type(connections[replicas.REPLICA]).connect

    def counting_connect(self):
        if self.alias == replicas.REPLICA:
            tried.append(time.monotonic())
        return connect(self)

    monkeypatch.setattr(type(connections[replicas.REPLICA]), "connect", counting_connect)
    reader = Client(raise_request_exception=False)  # as a browser: the response, not the error

    with caplog.at_level(logging.WARNING, logger="config.replicas"):
        found = reader.get(link)  # the replica refuses; asked again of the primary
    assert found.status_code == 302
    assert found.url.startswith(chapter.get_absolute_url())
    assert len(tried) == 1
    assert "read replica unavailable" in caplog.text
    assert reader.get(link).status_code == 302  # within the interval: not tried at all
    assert len(tried) == 1

    # After the interval it is tried again (still down: the primary answers again).
    monkeypatch.setattr(replicas, "_down_until", 0.0)
    assert reader.get(link).status_code == 302
    assert len(tried) == 2


def test_a_page_that_fails_on_the_primary_is_not_asked_twice(replica, chapter, monkeypatch):
    """The retry is for the replica's failures only: with the primary failing, one attempt."""
    calls = []

    def failing(**kwargs):
        calls.append(kwargs)
        raise OperationalError("the primary is down")

    comment = CommentFactory(article=chapter, body=BODY)
    monkeypatch.setattr(selectors, "get_comment_for_permalink", failing)
    browser = Client(raise_request_exception=False)
    response = browser.get(reverse("forum:comment-permalink", args=[comment.pk]))
    assert response.status_code == 503
    assert len(calls) == 1

"""Personas and shared fixtures: every view test can ask for the person it acts as."""

from __future__ import annotations

import pytest
from django.utils.functional import empty

from tests.factories import ArticleFactory, ColumnFactory, UserFactory, moderators_group


@pytest.fixture
def reader(db):
    return UserFactory(display_name="reader")


@pytest.fixture
def other_reader(db):
    return UserFactory(display_name="other_reader")


@pytest.fixture
def unverified_user(db):
    return UserFactory(display_name="unverified", verified=False)


@pytest.fixture
def column_author(db):
    return UserFactory(display_name="column_author")


@pytest.fixture
def column(column_author):
    return ColumnFactory(author=column_author, title="Deep Kubernetes", slug="deep-k8s")


@pytest.fixture
def article(column):
    return ArticleFactory(column=column, title="Why Pods?", slug="why-pods", position=1)


@pytest.fixture
def moderator(db):
    user = UserFactory(display_name="moderator", is_staff=True)
    user.groups.add(moderators_group())
    return user


@pytest.fixture
def admin_user(db):
    return UserFactory(display_name="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def reader_client(client, reader):
    client.force_login(reader)
    return client


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate limits and cached fragments live in the cache: no test inherits another's."""
    from django.core.cache import cache

    from forum import pagecache

    cache.clear()
    pagecache.clear()
    yield
    cache.clear()
    pagecache.clear()


@pytest.fixture
def celery_worker_on_redis(transactional_db):
    """A real Celery worker (in a thread) on the Redis broker of TEST_REDIS_URL.

    Tasks are sent through the broker instead of running eagerly for the test's duration.
    """
    from tests.helpers import celery_worker

    with celery_worker() as worker:
        yield worker


@pytest.fixture(autouse=True)
def _private_uploads(settings, tmp_path_factory):
    """Import uploads go to a temporary folder, never the checkout's var/imports/."""
    settings.STORAGES = {
        **settings.STORAGES,
        "imports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path_factory.mktemp("imports")},
        },
    }
    from forum import models as forum_models

    forum_models._import_storage._wrapped = empty  # the field's storage follows the setting
    # Tasks run eagerly in tests: the admin upload imports in the request, as under make run.
    settings.IMPORT_IN_WEB_PROCESS = True


@pytest.fixture(autouse=True)
def _generous_rate_limits(settings):
    """Tests post from one address far faster than people do, with accounts made a moment ago:
    no rate limits and no holding of new accounts' links, unless a moderation test sets them."""
    settings.RATE_LIMITS = {
        scope: "100000/60" for scope in ("comment", "like", "report", "write", "preview")
    }
    settings.HOLD_FIRST_COMMENTS_WITH_LINKS = 0


@pytest.fixture
def client_for(request):
    """A fresh client logged in as the named persona fixture ("anonymous": not logged in)."""
    from django.test import Client

    def make(persona: str) -> Client:
        client = Client()
        if persona != "anonymous":
            client.force_login(request.getfixturevalue(persona))
        return client

    return make

"""The site's own error pages, with DEBUG off (production) and on (the `make run` demo)."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

pytestmark = pytest.mark.django_db

NOT_FOUND = "This page does not exist"
SERVER_ERROR = "Something went wrong on our side"


@pytest.fixture(params=[False, True], ids=["production", "make-run"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


def test_a_mistyped_url_shows_the_sites_404(debug):
    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    page = response.content.decode()
    assert NOT_FOUND in page
    assert "URLconf" not in page  # Django's technical 404 lists the URL patterns
    assert 'class="site-header"' in page


def test_a_missing_column_shows_the_sites_404(debug):
    response = Client().get("/columns/no-such-column/")

    assert response.status_code == 404
    assert NOT_FOUND in response.content.decode()


def test_a_crash_shows_the_sites_500_and_logs_the_traceback(debug, caplog):
    client = Client(raise_request_exception=False)
    with mock.patch("forum.selectors.list_columns", side_effect=RuntimeError("boom")):
        response = client.get("/")

    assert response.status_code == 500
    page = response.content.decode()
    assert SERVER_ERROR in page
    assert "Traceback" not in page and "boom" not in page
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


@pytest.mark.parametrize(
    ("language", "heading"),
    [("en", "Back in a moment"), ("zh-hans", "马上回来")],
)
def test_an_unreachable_database_shows_a_503_that_asks_to_come_back(
    debug, caplog, language, heading
):
    # What psycopg's "connection refused" becomes in Django, from the first query of the page;
    # the page itself must not need the database (no user menu, no unread count).
    client = Client(raise_request_exception=False, HTTP_ACCEPT_LANGUAGE=language)
    refused = OperationalError('connection to server at "db" (10.0.0.5), port 5432 failed')
    with mock.patch("forum.selectors.list_columns", side_effect=refused):
        response = client.get("/")

    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    page = response.content.decode()
    assert heading in page
    assert SERVER_ERROR not in page and "10.0.0.5" not in page
    assert any(r.exc_info and r.exc_info[0] is OperationalError for r in caplog.records)


def test_any_other_crash_stays_a_500(debug):
    client = Client(raise_request_exception=False)
    with mock.patch("forum.selectors.list_columns", side_effect=ValueError("no")):
        response = client.get("/")
    assert response.status_code == 500
    assert SERVER_ERROR in response.content.decode()


def test_django_technical_pages_come_back_when_asked_for(settings):
    settings.DEBUG = True
    settings.DEBUG_TECHNICAL_ERRORS = True

    response = Client().get("/no-such-page/")

    assert response.status_code == 404
    assert "URLconf" in response.content.decode()


def test_pages_never_load_django_htmx_debug_script(debug, client):
    """With DEBUG on, django-htmx's {% htmx_script %} adds a script that replaces the whole
    document with any 4xx answer to an htmx request (a form error wiped the page)."""
    page = client.get("/").content.decode()

    assert "django-htmx.js" not in page
    assert "django_htmx/htmx-2.min.js" in page

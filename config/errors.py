"""The site's own 404 and 500 pages when DEBUG is on (the `make run` demo), and the 503 page
shown instead of a 500 while the database can't be reached (`server_error`, handler500).

With DEBUG on, Django answers a 404 and an uncaught exception with its technical pages (the
URL list, the traceback). A newcomer trying the demo should see the site as its readers do, so
this middleware answers with `404.html` / `500.html` instead and leaves the traceback on the
console, where runserver prints it. With DEBUG off it removes itself: Django's own handlers
render the same templates. `DEBUG_TECHNICAL_ERRORS=true` brings Django's pages back.

It sits just before the rate-limit middleware: its `process_exception` runs after that one's
(a 429 stays a 429), and a URL that matched nothing reaches it as the technical 404 response
that Django builds around the URL resolver.
"""

from __future__ import annotations

import logging
import sys

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    MiddlewareNotUsed,
    PermissionDenied,
    SuspiciousOperation,
)
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string

log = logging.getLogger("django.request")

# Django renders its own 400/403 templates with DEBUG on too: these are left to it.
HANDLED_BY_DJANGO = (PermissionDenied, BadRequest, SuspiciousOperation)


class SiteErrorPagesMiddleware:
    def __init__(self, get_response):
        if not settings.DEBUG or settings.DEBUG_TECHNICAL_ERRORS:
            raise MiddlewareNotUsed
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 404 and request.resolver_match is None:
            return not_found(request)  # no URL pattern matched: Django's URL list page
        return response

    def process_exception(self, request, exception):
        if isinstance(exception, Http404):
            return not_found(request)
        if isinstance(exception, HANDLED_BY_DJANGO):
            return None
        log.error("Internal Server Error: %s", request.path, exc_info=exception)
        return server_error(request, exception)


def not_found(request):
    return render(request, "404.html", status=404)


# The database can't be reached (down, restarting, failing over): a 503 that says so and asks
# to come back, not a 500. Both are what psycopg/sqlite3 errors become in Django.
UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def server_error(request, exception=None):
    """handler500, and the DEBUG middleware's 500: 503.html while the database is unreachable,
    else 500.html. Both are standalone (no database, no user, no CSRF token)."""
    exception = exception or sys.exc_info()[1]
    # Without the request's context: its processors would read the user (the database) again.
    if isinstance(exception, UNAVAILABLE):
        response = HttpResponse(render_to_string("503.html"), status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return HttpResponse(render_to_string("500.html"), status=500)

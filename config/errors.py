"""The site's own 404 and 500 pages when DEBUG is on (the `make run` demo).

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

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    MiddlewareNotUsed,
    PermissionDenied,
    SuspiciousOperation,
)
from django.http import Http404
from django.shortcuts import render

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
        return render(request, "500.html", status=500)


def not_found(request):
    return render(request, "404.html", status=404)

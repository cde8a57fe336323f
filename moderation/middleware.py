from __future__ import annotations

from django.shortcuts import render
from django.utils.translation import ngettext

from accounts.ratelimit import RateLimited


class RateLimitMiddleware:
    """Turns RateLimited, raised by any view, into a readable 429 (in place for htmx)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, RateLimited):
            return None
        minutes = max(1, round(exception.retry_after / 60))
        message = ngettext(
            "You’re doing that too often. Please wait %(n)d minute and try again.",
            "You’re doing that too often. Please wait %(n)d minutes and try again.",
            minutes,
        ) % {"n": minutes}
        template = "429.html#message" if getattr(request, "htmx", False) else "429.html"
        response = render(request, template, {"message": message}, status=429)
        response["Retry-After"] = str(exception.retry_after)
        if getattr(request, "htmx", False):
            # Show the message next to what was clicked; keep the form (and its draft) as is.
            response["HX-Reswap"] = "beforebegin"
        return response

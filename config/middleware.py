"""Responses to signed-in readers are theirs alone: `Cache-Control: private`."""

from __future__ import annotations

from django.utils.cache import patch_cache_control


class PrivateForSignedInMiddleware:
    """A page for a signed-in reader carries their name, bell and CSRF token: no shared cache
    (a proxy or CDN in front of the site) may keep it for someone else. Responses that set
    their own Cache-Control are left alone."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            patch_cache_control(response, private=True)
        return response

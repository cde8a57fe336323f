"""Responses to signed-in readers are theirs alone (`Cache-Control: private`); requests that
are not text are refused."""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from django.shortcuts import render
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _


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


class MalformedInputMiddleware:
    """400 for a request whose query string or form body is not text: bytes that are not
    UTF-8, or NUL. (A path that is not text matches no URL pattern, or is a slug no row can
    hold: a 404, tests/forum/test_unstorable_slugs.py.)

    Django decodes a malformed query string or form body with errors="replace", so invalid
    UTF-8 would reach the views as U+FFFD and be stored ("��hello" as a comment); and a NUL
    reaching PostgreSQL fails the query (a 500). No browser sends either, so the request is
    refused whole, before any view sees it. A urlencoded body (what every form but the two
    upload forms sends) is checked as bytes; reading it here is bounded like Django's own
    reading of it: DATA_UPLOAD_MAX_MEMORY_SIZE turns an oversized body into a 400 first.

    A multipart body (the avatar and the import upload) is not read whole here: its files may
    be large and Django streams them to disk. Its text fields are checked once Django has
    decoded them: a U+FFFD there is the trace of bytes that were not UTF-8 (a browser sends a
    typed U+FFFD as UTF-8 too, but no one types it; a name or bio holding one is refused).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not (
            _is_text(request.META.get("QUERY_STRING", "").encode("latin-1", "replace"))
            and _is_text(_form_body(request))
            and _multipart_fields_are_text(request)
        ):
            return render(
                request,
                "400.html",
                {"message": _("The request holds bytes that are not text (not UTF-8, or NUL).")},
                status=400,
            )
        return self.get_response(request)


def _form_body(request) -> bytes:
    if request.method != "POST" or request.content_type != "application/x-www-form-urlencoded":
        return b""
    return request.body


def _multipart_fields_are_text(request) -> bool:
    if request.method != "POST" or request.content_type != "multipart/form-data":
        return True
    return not any(
        "\ufffd" in value or "\x00" in value
        for _name, values in request.POST.lists()
        for value in values
    )


def _is_text(quoted: bytes) -> bool:
    raw = unquote_to_bytes(quoted.replace(b"+", b" "))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return "\x00" not in text


class RefusedFormMiddleware:
    """A POST whose form comes back with errors answers 400, as the site's own views do, for
    the views we don't write: allauth's (log in, sign up, password reset…) and the admin's
    add/change forms render a refused form with 200. A client (a script, a monitor, a test)
    then sees the refusal in the status, not only in the page. htmx swaps a 400 like a 200
    (base.html's responseHandling), so nothing changes for a reader.

    It reads the context a TemplateResponse is about to render: `form` (allauth, Django's
    generic views) or the admin's `errors` (the form's and its inlines').
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_template_response(self, request, response):
        if request.method != "POST" or response.status_code != 200:
            return response
        context = response.context_data or {}
        form = context.get("form")
        refused = (
            bool(context.get("errors"))
            if "adminform" in context
            else bool(getattr(form, "errors", None))
        )
        if refused:
            response.status_code = 400
        return response

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from . import ratelimit, services
from .forms import ProfileForm
from .permissions import suspension_message


@login_required
@require_http_methods(["GET", "POST"])
def profile_settings(request):
    # A name, a bio and an avatar are public text: while suspended or banned an account can no
    # more change them than it can comment (otherwise a banned spammer moves to the profile).
    suspended = suspension_message(request.user) if request.user.is_suspended else ""
    if request.method == "POST":
        if suspended:
            raise PermissionDenied(suspended)
        form = ProfileForm(request.POST, request.FILES, instance=request.user)
        if form.is_valid():
            ratelimit.hit(request, "write")
            services.update_profile(
                user=request.user,
                display_name=form.cleaned_data["display_name"],
                bio=form.cleaned_data["bio"],
                language=form.cleaned_data["language"],
                avatar=request.FILES.get("avatar") and form.cleaned_data["avatar"],
                remove_avatar=form.cleaned_data["remove_avatar"],
            )
            messages.success(request, _("Your profile was saved."))
            return redirect("accounts:settings")
        status = 400
    else:
        form = ProfileForm(instance=request.user)
        status = 200
    context = {"form": form, "suspended": suspended}
    return render(request, "accounts/settings.html", context, status=status)


@require_GET
@never_cache
def switch_language(request, code: str):
    """The footer's language links: a GET, so pages carry no form (and no CSRF token) for it and
    an anonymous reader's page stays the same for everyone. The choice is a cookie the next
    request's LocaleMiddleware reads; the worst a forged link can do is change someone's
    language, which the same footer changes back. Django's POST `set_language` stays too."""
    if code not in dict(settings.LANGUAGES):
        raise Http404
    next_url = request.GET.get("next", "/")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = HttpResponseRedirect(next_url)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        code,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response

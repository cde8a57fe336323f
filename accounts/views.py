from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

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

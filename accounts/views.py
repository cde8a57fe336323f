from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from forum.selectors import list_user_comments
from moderation import ratelimit

from . import selectors, services
from .forms import ProfileForm


def profile(request, pk: int):
    profile_user = selectors.get_profile_user(pk=pk)
    comments_page = list_user_comments(user=profile_user, page=request.GET.get("page"))
    return render(
        request,
        "accounts/profile.html",
        {"profile_user": profile_user, "comments_page": comments_page},
    )


@login_required
@require_http_methods(["GET", "POST"])
def profile_settings(request):
    if request.method == "POST":
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
    return render(request, "accounts/settings.html", {"form": form}, status=status)

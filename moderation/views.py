"""Moderation from the site: readers report; moderators and column authors hide and restore."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import ratelimit
from forum import permissions, selectors
from forum.enums import CommentStatus

from . import selectors as moderation_selectors
from . import services
from .forms import ReasonForm, ReportForm


def _login(request, next_url: str) -> HttpResponse:
    response = redirect_to_login(next_url)
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": response.url})
    return response


@require_http_methods(["GET", "POST"])
def report(request, pk: int):
    comment = selectors.get_comment(pk=pk)
    if not request.user.is_authenticated:
        return _login(request, comment.get_absolute_url())
    permissions.check_can_write(request.user)
    if comment.author_id == request.user.pk:
        raise PermissionDenied(_("You can’t report your own comment."))
    template = "moderation/report.html#form" if request.htmx else "moderation/report.html"
    context = {"comment": comment}
    if moderation_selectors.has_reported(comment=comment, user=request.user):
        context["message"] = _("You already reported this comment. Thank you.")
        return _render(request, template, context, status=409)
    if comment.status != CommentStatus.VISIBLE:
        # Hidden, held or deleted: already out of sight, and moderators already know.
        context["message"] = _("This comment is no longer visible.")
        return _render(request, template, context, status=409)
    form = ReportForm(request.POST or None)
    context["form"] = form
    if request.method == "POST":
        if not form.is_valid():
            return _render(request, template, context, status=400)
        ratelimit.hit(request, "report")
        try:
            services.report_comment(
                comment=comment,
                reporter=request.user,
                reason=form.cleaned_data["reason"],
                text=form.cleaned_data["text"],
            )
        except services.AlreadyReported:
            context["message"] = _("You already reported this comment. Thank you.")
            return _render(request, template, context, status=409)
        context["message"] = _("Thank you: moderators will look at this comment.")
        context["form"] = None
    return _render(request, template, context)


def _render(request, template, context, status=200):
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["HX-Request"])
    return response


@require_http_methods(["GET", "POST"])
def hide(request, pk: int):
    return _moderate(request, pk, action="hide")


@require_http_methods(["GET", "POST"])
def restore(request, pk: int):
    return _moderate(request, pk, action="restore")


def _moderate(request, pk: int, *, action: str):
    comment = selectors.get_comment(pk=pk)
    if not request.user.is_authenticated:
        return _login(request, comment.get_absolute_url())
    permissions.check_can_moderate(request.user, comment)
    allowed_from = services.MODERATED_FROM[
        services.Action.HIDE if action == "hide" else services.Action.RESTORE
    ]
    # The reason is optional: a POST without any field still acts.
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if comment.status not in allowed_from:
        message = _("This comment is not in a state where that applies.")
        return render(request, "400.html", {"message": message}, status=409)
    if request.method == "POST" and form.is_valid():
        ratelimit.hit(request, "write")
        reason = form.cleaned_data["reason"]
        if action == "hide":
            services.hide_comment(comment=comment, by=request.user, reason=reason)
        else:
            services.restore_comment(comment=comment, by=request.user, reason=reason)
        if request.htmx:
            return HttpResponse(status=204, headers={"HX-Refresh": "true"})
        return redirect(comment.get_absolute_url())
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "moderation/moderate.html",
        {"comment": comment, "form": form, "action": action},
        status=status,
    )

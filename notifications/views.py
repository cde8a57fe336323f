from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import ratelimit
from forum import selectors as forum_selectors
from forum.pagination import BadCursor

from . import selectors, services
from .enums import Kind
from .forms import PreferencesForm
from .models import Notification


@login_required
@require_GET
def inbox(request):
    try:
        page, days = selectors.inbox(user=request.user, before=request.GET.get("before"))
    except BadCursor:
        message = _("This “older” link is broken or outdated.")
        return render(request, "400.html", {"message": message}, status=400)
    return render(request, "notifications/inbox.html", {"page": page, "days": days})


@login_required
@require_GET
def bell(request):
    response = render(request, "notifications/inbox.html#bell")
    patch_vary_headers(response, ["Cookie"])
    return response


@login_required
@require_GET
def open_notification(request, pk: int):
    """Mark it read and go where it points (the comment's permalink)."""
    notification = selectors.get_notification(user=request.user, pk=pk)
    services.mark_read(user=request.user, notification_id=notification.pk)
    return redirect(services.target_url(notification))


@login_required
@require_POST
def mark_read(request, pk: int):
    get_object_or_404(Notification, pk=pk, recipient=request.user)
    ratelimit.hit(request, "write")
    services.mark_read(user=request.user, notification_id=pk)
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Refresh": "true"})
    return redirect("notifications:inbox")


@login_required
@require_POST
def mark_all_read(request):
    ratelimit.hit(request, "write")
    services.mark_read(user=request.user)
    messages.success(request, _("All notifications are marked as read."))
    return redirect("notifications:inbox")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    current = services.preferences_for(request.user)
    form = PreferencesForm(request.POST or None, initial_deliveries=current)
    if request.method == "POST":
        if form.is_valid():
            ratelimit.hit(request, "write")
            services.set_preferences(user=request.user, deliveries=form.cleaned_data)
            messages.success(request, _("Your notification settings were saved."))
            return redirect("notifications:settings")
        return render(request, "notifications/settings.html", {"form": form}, status=400)
    return render(request, "notifications/settings.html", {"form": form})


@csrf_exempt  # RFC 8058: mail clients POST "List-Unsubscribe=One-Click" with no session or token
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    try:
        user, kind = services.read_unsubscribe_token(token)
    except signing.BadSignature:
        return render(request, "notifications/unsubscribe.html", {"bad": True}, status=400)
    label = _("daily digest") if kind == "digest" else Kind(kind).label
    if request.method == "POST":
        services.unsubscribe(user=user, kind=kind)
        return render(request, "notifications/unsubscribe.html", {"done": True, "label": label})
    return render(request, "notifications/unsubscribe.html", {"label": label, "token": token})


@login_required
@require_POST
def follow_column(request, slug: str):
    column = forum_selectors.get_column(slug=slug)
    ratelimit.hit(request, "write")
    following = services.toggle_follow(user=request.user, column=column)
    if request.htmx:
        return render(
            request, "notifications/_follow.html", {"following": following, "url": request.path}
        )
    return redirect(column.get_absolute_url())


@login_required
@require_POST
def follow_article(request, column_slug: str, slug: str):
    article = forum_selectors.get_article(column_slug=column_slug, slug=slug)
    ratelimit.hit(request, "write")
    following = services.toggle_follow(user=request.user, article=article)
    if request.htmx:
        return render(
            request, "notifications/_follow.html", {"following": following, "url": request.path}
        )
    return redirect(article.get_absolute_url())

"""`{% moderation_dashboard %}`: the moderation figures at the top of the admin index."""

from __future__ import annotations

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from forum.permissions import is_moderator

from .. import dashboard

register = template.Library()


@register.inclusion_tag("admin/moderation/dashboard.html", takes_context=True)
def moderation_dashboard(context) -> dict:
    """The dashboard for moderators and superusers; nothing for other staff."""
    request = context.get("request")
    if request is None or not is_moderator(request.user):
        return {"dashboard": None}
    return {"dashboard": dashboard.build()}


@register.filter
def age(value) -> str:
    """How long ago, in its largest unit only ("4 days", not "4 days, 2 hours"); "" under a
    minute, which templates say as "just now" (not "0 minutes ago")."""
    if not value or (timezone.now() - value).total_seconds() < 60:
        return ""
    return timesince(value, depth=1)

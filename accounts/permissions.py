"""What an account may do by itself, whatever the page: its suspension, said in words."""

from __future__ import annotations

from django.utils import timezone
from django.utils.translation import gettext as _


def suspension_message(user) -> str:
    reason = user.suspension_reason or _("no reason given")
    if user.is_banned:
        return _("Your account is banned from writing (%(reason)s).") % {"reason": reason}
    until = timezone.localtime(user.suspended_until).strftime("%Y-%m-%d %H:%M")
    return _("Your account is suspended until %(until)s (%(reason)s). You can still read.") % {
        "until": until,
        "reason": reason,
    }
